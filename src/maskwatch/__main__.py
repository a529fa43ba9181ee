import sys

from maskwatch.commands import main

sys.exit(main())
