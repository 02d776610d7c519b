"""python -m deepgrad: the same as the `deepgrad` command."""
import sys

from deepgrad.cli import main

sys.exit(main())
