# The native kernels addon: plain C against node_api.h, linked to the system OpenBLAS
# (Debian: apt-get install libopenblas-dev). Built by `npm install` through the package's
# "install" script, which tolerates a failed build (gymrl then runs on the TypeScript kernels).
# Rebuild by hand with `npm run build:native`. Output: build/Release/gymrl_native.node.
#
# The addon is compiled on the machine that runs it, so it targets that CPU (-march=native).
# Set GYMRL_MARCH (e.g. x86-64-v3) before building to produce a portable binary instead.
{
  "targets": [
    {
      "target_name": "gymrl_native",
      "sources": ["native/gymrl_native.c", "native/fused.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags!": ["-fno-omit-frame-pointer"],
      "cflags_c": [
        "-std=gnu11",
        "-O3",
        "-march=<!(node -p \"process.env.GYMRL_MARCH || 'native'\")",
        "-fopenmp-simd",
        "-fno-math-errno",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter"
      ],
      "libraries": ["-lopenblas", "-lm"]
    }
  ]
}
