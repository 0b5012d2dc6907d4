from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import Centre
from tests import factories


@pytest.fixture
def central(db: None) -> Centre:
    return factories.make_centre(central=True)


@pytest.fixture
def region(db: None) -> Centre:
    return factories.make_centre("busan")


@pytest.fixture
def caseworker(central: Centre) -> factories.User:
    return factories.make_user("caseworker", central, username="cw_a")


@pytest.fixture
def caseworker_b(central: Centre) -> factories.User:
    return factories.make_user("caseworker", central, username="cw_b")


@pytest.fixture
def supervisor(central: Centre) -> factories.User:
    return factories.make_user("supervisor", central, username="sup_central")


@pytest.fixture
def other_supervisor(region: Centre) -> factories.User:
    return factories.make_user("supervisor", region, username="sup_busan")


@pytest.fixture
def client_for():
    def make(user: factories.User) -> Client:
        return factories.login_verified(Client(), user)

    return make


@pytest.fixture
def api_for():
    def make(user: factories.User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {factories.issue_token(user)}")
        return client

    return make
