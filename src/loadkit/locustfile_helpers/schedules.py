"""Scheduled starts: the open model's `Arrivals` and `Pacing`, which put how late each
iteration started on its request events."""

# mypy: ignore-errors
import collections
import random
import time

import gevent
from locust import events
from locust.runners import WorkerRunner

# -- scheduled starts: arrival rates (the open model) and pacing ---------------------------
#
# A user whose iterations start on a schedule records how late each one started
# (`start_delay`), and its `context()` puts that on every request event: loadkit then keeps,
# next to each request's service time (from the actual send), its corrected time (service time
# plus the start delay), the time from when the request should have started. A stalled server
# delays the very requests that would have measured the stall; only the corrected time sees
# that wait (coordinated omission, as wrk2 and HdrHistogram correct it).
NO_DELAY = {"start_delay_ms": 0.0}


def start_delay(late_s):
    return {"start_delay_ms": late_s * 1000.0 if late_s > 0 else 0.0}


def sleep_while_waiting(user, seconds):
    """Sleep as Locust's own wait does: a user stopped meanwhile stops at once."""
    if seconds <= 0:
        return
    state = user._state
    user._state = "waiting"  # Locust's LOCUST_STATE_WAITING: stopping kills it right away
    try:
        gevent.sleep(seconds)
    finally:
        user._state = state


class Arrivals:
    """The arrival schedule of one user type (the open model): arrivals come at `stages`
    rates, (arrivals per second, seconds) for the whole test, whether or not the target keeps
    up; each starts one iteration (one weighted task) on a free user of the type's pool.

    A user that finishes its task claims the next arrival and sleeps until it. When every user
    is busy, arrivals wait in a backlog and start late, at once, when a user is free (counted
    as delayed, their lateness in the corrected times); an arrival finding `max_backlog`
    waiting is dropped and counted. Each load-generating process takes its share of the rate:
    the share of the type's `users` it runs. Memory stays bounded by `max_backlog`. It makes
    itself the user class's `schedule`, whose `wait` is the class's wait_time.
    """

    def __init__(self, user_class, stages, users, spacing, max_backlog):
        user_class.schedule = self
        user_class.start_delay = NO_DELAY
        user_class.iteration_due = False
        self.user_class = user_class.__name__
        self.stages = stages
        self.users = users
        self.poisson = spacing == "poisson"
        self.max_backlog = max_backlog
        self.reset()
        events.test_start.add_listener(self.reset)  # each test started in the web UI anew

    def reset(self, **kwargs):
        self.origin = None  # time.perf_counter() of the first arrival
        self.next_at = 0.0  # the next arrival nobody claimed yet, in seconds from the origin
        self.backlog = collections.deque()
        self.share = 1.0
        self.arrived = self.started = self.delayed = self.dropped = self.busy = 0

    def process_share(self, user):
        """This process's share of the rate: 1 on its own, its users' share on a worker."""
        runner = user.environment.runner
        if isinstance(runner, WorkerRunner):
            local = runner.target_user_classes_count.get(self.user_class, 0)
            return min(local / self.users, 1.0) if self.users else 0.0
        return 1.0

    def advance(self):
        """Move `next_at` past one arrival: the stage's rate (this process's share of it),
        evenly spaced or Poisson; over a stage boundary the rest of the gap is taken at the
        next stage's rate (Poisson: drawn afresh, it has no memory). None after the end."""
        t = self.next_at
        need = random.expovariate(1.0) if self.poisson else 1.0  # in arrivals
        stage_start = 0.0
        for rate, seconds in self.stages:
            stage_end = stage_start + seconds
            local = rate * self.share
            if t < stage_end and local > 0:
                # (less a nanosecond: 150 gaps of 1/15 s must not add up to just under 10 s)
                if t + need / local < stage_end - 1e-9:
                    self.next_at = t + need / local
                    return
                need = random.expovariate(1.0) if self.poisson else need - (stage_end - t) * local
            t = max(t, stage_end)
            stage_start = stage_end
        self.next_at = None

    def wait(self, user):
        """Sleep until this user's next arrival (at once for one already due), then let its
        iteration start; returns 0 for Locust's wait_time (the wait is done)."""
        now = time.perf_counter()
        if user.iteration_due:  # an iteration that ran through without a request: it started
            user.iteration_due = False
            self.started += 1
        if getattr(user, "in_iteration", False):
            self.busy -= 1
            user.in_iteration = False
        self.share = self.process_share(user) or self.share
        if self.origin is None:
            self.origin = now
            first_rate = self.stages[0][0] * self.share
            if self.share < 1.0 and first_rate > 0 and not self.poisson:
                # Workers offset their evenly spaced arrivals instead of all starting at 0.
                self.next_at = random.random() / first_rate
        self.queue_due(now)
        if self.backlog:
            intended = self.backlog.popleft()
            self.delayed += 1
        elif self.next_at is not None:
            intended = self.origin + self.next_at
            self.advance()
            sleep_while_waiting(user, intended - now)
            self.arrived += 1  # counted once due, as the ones in the backlog are
        else:
            sleep_while_waiting(user, 3600.0)  # no arrival left: until the run stops
            return 0
        user.start_delay = start_delay(time.perf_counter() - intended)
        # Started once its first request goes out (`begin`), or when it ends without one (the
        # next `wait`): the user may yet stop first (the run ends, its test data runs out), and
        # an iteration it never ran did not start.
        user.iteration_due = True
        return 0

    def begin(self, user):
        """The user's `context()`, on each request: the first one of an iteration starts it.
        Returns how late it started, for the request event."""
        if user.iteration_due:
            user.iteration_due = False
            user.in_iteration = True
            self.started += 1
            self.busy += 1
        return user.start_delay

    def queue_due(self, now):
        """Every arrival due by `now` that no user claimed waits in the backlog (or, when
        `max_backlog` are waiting, is dropped)."""
        if self.origin is None:
            return
        bound = max(1, round(self.max_backlog * self.share))
        while self.next_at is not None and self.origin + self.next_at < now - 1e-9:
            self.arrived += 1
            if len(self.backlog) < bound:
                self.backlog.append(self.origin + self.next_at)
            else:
                self.dropped += 1
            self.advance()

    def counts(self):
        """What loadkit reports: arrivals due so far, started, delayed (started late, from
        the backlog), dropped, waiting now, and users busy in an iteration now."""
        self.queue_due(time.perf_counter())
        return {
            "arrived": self.arrived,
            "started": self.started,
            "delayed": self.delayed,
            "dropped": self.dropped,
            "waiting": len(self.backlog),
            "busy": self.busy,
        }


class Pacing:
    """wait_time of `pacing: S`: an iteration every S seconds per user, on a fixed schedule
    from its first iteration (like a metronome, as wrk2 paces). An iteration that overruns
    makes the next start late, at once; the lateness is its start delay."""

    def __init__(self, user_class, seconds):
        user_class.schedule = self
        user_class.start_delay = NO_DELAY
        self.seconds = seconds

    def begin(self, user):
        """The user's `context()`, on each request: how late its iteration started."""
        return user.start_delay

    def wait(self, user):
        now = time.perf_counter()
        due = getattr(user, "paced_due", None)
        if due is None:  # the end of on_start: the first iteration starts now
            user.paced_due = now + self.seconds
            user.start_delay = NO_DELAY
            return 0
        user.paced_due = due + self.seconds
        sleep_while_waiting(user, due - now)
        user.start_delay = start_delay(time.perf_counter() - due)
        return 0
