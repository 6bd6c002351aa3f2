"""The fault schedule: a pure function of (seed, duration), so a seed reproduces a run."""

from __future__ import annotations

import random
from dataclasses import dataclass

# What can be done, to what, and for how long (seconds the target stays down/frozen).
PROCESS_KILLS = ("shipper", "indexer-1", "indexer-2", "app-0", "app-1", "app-2")
BROKERS = ("kafka", "kafka-2", "kafka-3")


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the start of the load
    action: str  # kill | broker-kill | broker-freeze | es-stop
    target: str
    down_for: float

    def describe(self) -> str:
        return f"t={self.at:6.1f}s {self.what()}"

    def what(self) -> str:
        verb = {
            "kill": "SIGKILL",
            "broker-kill": "SIGKILL broker",
            "broker-freeze": "SIGSTOP broker",
            "es-stop": "stop Elasticsearch",
        }[self.action]
        return f"{verb} {self.target}, back after {self.down_for:.1f}s"


def schedule(seed: int, duration: float) -> list[Fault]:
    """Faults spread over `duration`: broker kills, broker freezes and Elasticsearch stops in
    rounds (each kind once per round, at most one at a time: a 3-broker cluster with min ISR 2
    survives one), process kills in between."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not security
    infra = ["broker-kill", "broker-freeze", "es-stop"]
    kinds = list(infra)
    kills = list(PROCESS_KILLS)
    rng.shuffle(kills)
    faults: list[Fault] = []
    t = 15.0
    infra_busy_until = 0.0
    while t < duration - 10:
        if t >= infra_busy_until:
            kinds = kinds or list(infra)  # every kind once, then again, for as long as it runs
            action = kinds.pop(rng.randrange(len(kinds)))
            down = {
                "broker-kill": rng.uniform(15, 25),
                "broker-freeze": rng.uniform(5, 10),
                "es-stop": rng.uniform(20, 30),
            }[action]
            target = "elasticsearch" if action == "es-stop" else rng.choice(BROKERS)
            faults.append(Fault(round(t, 1), action, target, round(down, 1)))
            infra_busy_until = t + down + 5
        else:
            target = kills.pop() if kills else rng.choice(PROCESS_KILLS)
            faults.append(Fault(round(t, 1), "kill", target, round(rng.uniform(1, 4), 1)))
        t += rng.uniform(6, 12)
    return faults
