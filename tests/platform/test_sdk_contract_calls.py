"""The ``mlserve-sdk`` 0.4.0 calls the end-to-end test does not make, against the real
control plane: their requests validate against the typed contracts and their answers parse
as the SDK reads them (team management, evolution, hourly metrics, deployment status)."""

from __future__ import annotations

import uuid

import pytest
from mlserve_sdk.client import MLServeClient
from mlserve_sdk.client import MLServeError as SdkError

from mlserve.samples.sentiment_model import SAMPLE_NAME
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Stack


@pytest.fixture(scope="module")
def admin(stack: Stack) -> MLServeClient:
    client = MLServeClient(server_url=stack.base_url)
    client.login(ADMIN_USER, ADMIN_PASSWORD)
    return client


def test_team_management_round_trip(admin: MLServeClient, stack: Stack) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    invited = admin.invite(email)
    assert email in invited["detail"]
    user_id = invited["user_id"]
    registered = MLServeClient(server_url=stack.base_url).register("Ada", email, "ada-password-1")
    assert registered["user_id"] == user_id
    assert "activate" in registered["message"]
    activated = admin._make_request("POST", f"/api/v1/team/{user_id}/activate")
    assert activated["user"]["active"] is True
    promoted = admin.update_user_role(user_id, "admin")
    assert promoted["user"]["role"] == "admin"
    demoted = admin.update_user_role(user_id, "user")
    assert demoted["user"]["role"] == "user"
    members = {m["user_id"]: m for m in admin.list_team_members()}
    assert members[user_id]["email"] == email
    assert "password_hash" not in members[user_id]
    removed = admin.remove_team_member(user_id)
    assert removed["user"]["deleted"] is True
    with pytest.raises(SdkError) as refused:
        admin.update_user_role(user_id, "superuser")
    assert refused.value.status_code == 422
    assert "role: Input should be 'admin' or 'user'" in refused.value.message


def test_model_views_parse_as_the_sdk_reads_them(admin: MLServeClient) -> None:
    evolution = admin.get_model_evolution(SAMPLE_NAME, as_dataframe=True)
    assert "v1" in list(evolution["version"])
    hourly = admin.get_metrics(SAMPLE_NAME, "v1", hours=3)
    assert (hourly["model"], hourly["hours"], len(hourly["timeseries"])) == (SAMPLE_NAME, 3, 3)
    assert admin.get_metrics(SAMPLE_NAME, "v1", hours=3, as_dataframe=True).shape[0] == 3
    online = admin.get_online_metrics(SAMPLE_NAME, "v1", window_hours=1)
    assert online == {} or online["model"] == SAMPLE_NAME
    with pytest.raises(SdkError) as unknown:
        admin.get_deployment_status(10**12)
    assert unknown.value.status_code == 404
