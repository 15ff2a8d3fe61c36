"""opaudit: TFLite graph diagnosis and op audit.

Python API (returns the same data the CLI renders):

    from opaudit import inspect_model
    report = inspect_model("model.tflite", target="cpu")
    report.findings, report.operators, report.to_dict()
"""

__version__ = "0.1.0"


def inspect_model(path, **kwargs):
    """See `opaudit.inspect.inspect_model`."""
    from opaudit.inspect import inspect_model as _inspect

    return _inspect(path, **kwargs)


__all__ = ["inspect_model", "__version__"]
