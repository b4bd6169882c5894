"""`python -m loadkit.harness <locust arguments>`: Locust's own CLI with the harness."""

from loadkit.harness.lifecycle import main

if __name__ == "__main__":
    main()
