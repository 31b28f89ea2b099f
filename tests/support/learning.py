"""A gateway that routes on online estimates learned in the test's database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.routing_stats_repo import DbStatsStore
from app.gateway.gateway import Gateway
from app.observability.telemetry import Telemetry
from app.routing.catalog import load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.clusters import TopicClusters
from app.routing.online import OnlineLearner
from app.routing.online_config import OnlineConfig

# A GSM8K-style question the classifier places in a familiar cluster (c05) with p(edge)
# 0.81: `auto` (threshold 0.75) answers it on edge until feedback says edge gets it wrong.
PEACHES = (
    "John collects peaches for 3 hours.  He can collect 2 peaches a minute.  "
    "How many peaches does he collect?"
)


def learning_gateway(
    sessions: async_sessionmaker[AsyncSession],
    simulator_url: str,
    config: OnlineConfig | None = None,
    telemetry: Telemetry | None = None,
) -> Gateway:
    """As `build_services` builds it: classifier, topic clusters and a DbStatsStore."""
    learner = OnlineLearner(
        TopicClusters.load(), DbStatsStore(sessions, per_tenant=False), config or OnlineConfig()
    )
    return Gateway(
        catalog=load_catalog(),
        session_factory=sessions,
        simulator_url=simulator_url,
        timeout_s=10,
        classifier=TaskClassifier.load(),
        learner=learner,
        telemetry=telemetry,
    )
