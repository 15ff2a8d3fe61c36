"""Renderers: terminal (rich), JSON, HTML. All fed from the same `ModelReport` / fix dict."""
