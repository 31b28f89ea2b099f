"""The routing models the unit tests share: the task classifier and the topic clusters."""

from __future__ import annotations

import pytest

from app.routing.classifier import TaskClassifier
from app.routing.clusters import TopicClusters


@pytest.fixture(scope="module")
def classifier() -> TaskClassifier:
    return TaskClassifier.load()


@pytest.fixture(scope="module")
def clusters() -> TopicClusters:
    return TopicClusters.load()
