import sys

from payintents_client.cli import main

sys.exit(main())
