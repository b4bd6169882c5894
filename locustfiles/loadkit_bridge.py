"""Plain Locust running a loadkit scenario, compiled when Locust imports this file:

    LOADKIT_SCENARIO=scenarios/demo.yaml locust -f locustfiles/loadkit_bridge.py

(The files next to this one are scenarios compiled ahead of time with `loadkit compile`.)
"""

from loadkit.bridge import load_into

load_into(globals())
