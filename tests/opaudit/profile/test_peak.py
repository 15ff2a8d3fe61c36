from opaudit.profile.peak import peak_gflops

CPU = "processor\t: 0\ncpu MHz\t\t: 2450.000\nflags\t\t: fpu sse2 avx2 fma\nprocessor\t: 1\ncpu MHz\t\t: 2500.000\n"


def test_nominal_peak_from_clock_and_isa():
    gflops, how = peak_gflops(CPU, cores=2)
    assert gflops == 2 * 2.5 * 32 and "nominal" in how and "AVX2" in how
    assert peak_gflops(CPU.replace("fma", "fma avx512f"), cores=2)[0] == 2 * 2.5 * 64
    assert peak_gflops(CPU.replace(" avx2 fma", ""), cores=1)[0] == 2.5 * 16
    assert peak_gflops("garbage\ncpu MHz: ?\n", cores=4)[0] == 0.0
