{
  "targets": [
    {
      "target_name": "file_flags",
      "sources": ["src/fileFlags.c", "src/aead.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "xcode_settings": { "OTHER_CFLAGS": ["-Wall", "-Wextra", "-O2"] }
    }
  ]
}
