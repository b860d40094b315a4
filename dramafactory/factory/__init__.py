"""Factory mode: many series at once in one process, sharing one set of backends and one engine (run.py), from a
folder or file of concepts (concepts.py), with a live progress table and a final one (progress.py, display.py) and
the `dramafactory factory` command (cli.py). Nothing is imported here, so that registering the command loads no
LangGraph."""
