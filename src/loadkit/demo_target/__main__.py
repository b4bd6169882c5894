import sys

from loadkit.demo_target.server import main

sys.exit(main())
