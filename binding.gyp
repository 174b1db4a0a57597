{
  "targets": [
    {
      "target_name": "sipwall_nfq",
      "sources": [
        "native/nfq-addon.c",
        "native/nfq-core.c",
        "native/hot-table.c",
        "native/packet-peek.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"],
      "libraries": ["-lnetfilter_queue", "-lmnl"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags_c!": ["-O3"]
        }
      }
    }
  ]
}
