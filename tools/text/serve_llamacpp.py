"""`python -m dramafactory.tools.text.serve_llamacpp ARGS`: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server ARGS`, the same arguments) with the embedded backend's load fix: on a CPU with Intel
AMX the model loads without llama.cpp's extra buffer types, which crash there (llamacpp.cpu_has_amx, ADR 0016).
"""

from __future__ import annotations

from .llamacpp import cpu_has_amx, without_extra_buffers


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    if cpu_has_amx():
        without_extra_buffers()  # for the whole process: the server loads its model inside serve()
    serve()


if __name__ == "__main__":
    main()
