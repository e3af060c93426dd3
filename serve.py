"""`python serve.py [--model-dir DIR]`: the same server as `serve` and `sdxl-inf2 serve`."""

from sdxl_inf2.container.server import main

if __name__ == "__main__":
    raise SystemExit(main())
