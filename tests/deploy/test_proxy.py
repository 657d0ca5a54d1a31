"""Behind the proxy, login throttling sees the client's address, not the proxy's."""

from __future__ import annotations

from django.test import RequestFactory, override_settings

from config.proxy import client_ip


def _request(forwarded: str | None):
    meta = {"REMOTE_ADDR": "127.0.0.1"}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/accounts/login/", **meta)


@override_settings(REVIEWFLOW_PROXY_COUNT=1)
def test_the_address_nginx_appended_counts_not_what_the_client_sent():
    assert client_ip(_request("203.0.113.7")) == "203.0.113.7"
    # A client that sends its own X-Forwarded-For cannot choose its address.
    assert client_ip(_request("198.51.100.1, 203.0.113.7")) == "203.0.113.7"


@override_settings(REVIEWFLOW_PROXY_COUNT=2)
def test_two_proxies_count_from_the_right():
    assert client_ip(_request("198.51.100.1, 203.0.113.7, 10.0.0.2")) == "203.0.113.7"


@override_settings(REVIEWFLOW_PROXY_COUNT=1)
def test_without_the_header_or_without_a_proxy_the_peer_address_counts():
    assert client_ip(_request(None)) == "127.0.0.1"
    with override_settings(REVIEWFLOW_PROXY_COUNT=0):
        assert client_ip(_request("203.0.113.7")) == "127.0.0.1"
