"""Query building of the Prometheus metric source: presets, selector, version label, overrides."""

from __future__ import annotations

import pytest

from tui.backends.prometheus import QUERY_NAMES, build_queries, preset_queries
from tui.backends.prometheus.queries import (
    COUNTER_QUERIES,
    PRESETS,
    QueryConfigError,
    normalize_selector,
    resolve_version_label,
)


def test_http_preset_exact_queries_with_selector():
    q = preset_queries("http", 'app="x0tta6bl4-app"', "version", window_s=60, interval_s=2)
    sel = 'app="x0tta6bl4-app"'
    assert q == {
        "requests_per_second": f"sum by (version) (rate(http_requests_total{{{sel}}}[60s]))",
        "error_rate": f'sum by (version) (rate(http_requests_total{{status=~"5..", {sel}}}[60s]))',
        "latency_buckets_window": f"sum by (version, le) (rate(http_request_duration_seconds_bucket{{{sel}}}[60s]))",
        # raw counters, every series, no aggregation, no range: differenced per series client-side
        "requests_counter": f"http_requests_total{{{sel}}}",
        "latency_buckets_counter": f"http_request_duration_seconds_bucket{{{sel}}}",
        "cpu_cores": f"avg by (version) (rate(process_cpu_seconds_total{{{sel}}}[60s]))",
        "memory_bytes": f"avg by (version) (process_resident_memory_bytes{{{sel}}})",
        # one CPU series per instance: the count behind the load per instance
        "instances": f"count by (version) (process_cpu_seconds_total{{{sel}}})",
        # the scrape's own time (an instant query stamps its answer with the evaluation time)
        "scrape_time": f"max by (version) (timestamp(http_requests_total{{{sel}}}))",
    }
    assert tuple(q) == tuple(n for n in QUERY_NAMES if n != "errors_counter")  # errors: from requests_counter
    assert len(q) == 9


def test_http_preset_without_selector_has_no_empty_braces():
    q = preset_queries("http", "", None, window_s=60, interval_s=2)
    assert q["requests_per_second"] == "sum by (version) (rate(http_requests_total[60s]))"
    assert q["memory_bytes"] == "avg by (version) (process_resident_memory_bytes)"
    assert q["error_rate"] == 'sum by (version) (rate(http_requests_total{status=~"5.."}[60s]))'
    assert q["requests_counter"] == "http_requests_total"
    assert q["latency_buckets_counter"] == "http_request_duration_seconds_bucket"
    assert all("{}" not in text and "{, " not in text for text in q.values())


@pytest.mark.parametrize("selector", ['app="a"', '{app="a"}', ' {app="a"} ', 'app="a",'])
def test_selector_forms_normalize(selector):
    assert normalize_selector(selector) == 'app="a"'


def test_selector_with_nested_braces_is_refused():
    with pytest.raises(QueryConfigError):
        normalize_selector('x{app="a"}')


def test_selector_and_version_label_are_in_every_preset_query():
    q = preset_queries("http", 'app="a", ns="b"', "track", window_s=30, interval_s=5)
    for name, text in q.items():
        assert 'app="a", ns="b"' in text, name
        assert "by (version" not in text, name
        if name in COUNTER_QUERIES:
            assert "by (" not in text and "[" not in text, name  # raw series: split by track client-side
        else:
            assert "by (track" in text, name
    assert "[30s]" in q["requests_per_second"]


def test_sub_second_and_fractional_durations():
    q = preset_queries("http", "", None, window_s=1.5, interval_s=0.5)
    assert "[1500ms]" in q["requests_per_second"]


def test_istio_preset():
    q = preset_queries("istio", 'destination_service_name="app"', None, window_s=60, interval_s=2)
    assert set(q) == set(QUERY_NAMES) - {"cpu_cores", "memory_bytes", "instances", "errors_counter"}  # 6 queries
    for name, text in q.items():
        assert 'reporter="destination"' in text
        assert 'destination_service_name="app"' in text
        assert ("by (destination_version" in text) == (name not in COUNTER_QUERIES)
    assert "istio_requests_total" in q["requests_per_second"]
    assert 'response_code=~"5.."' in q["error_rate"]
    assert q["requests_counter"] == 'istio_requests_total{reporter="destination", destination_service_name="app"}'
    assert q["latency_buckets_counter"] == ('istio_request_duration_milliseconds_bucket'
                                            '{reporter="destination", destination_service_name="app"}')
    assert "istio_request_duration_milliseconds_bucket" in q["latency_buckets_window"]
    assert PRESETS["istio"].status_label == "response_code" and PRESETS["http"].status_label == "status"


def test_istio_version_label_default_and_explicit():
    assert resolve_version_label("istio", "version") == "destination_version"
    assert resolve_version_label("istio", None) == "destination_version"
    assert resolve_version_label("istio", "destination_canonical_revision") == "destination_canonical_revision"
    assert resolve_version_label("http", None) == "version"
    assert resolve_version_label("http", "track") == "track"


def test_overrides_replace_by_name_and_add_cpu_to_istio():
    cpu = 'avg by (destination_version) (my_cpu{app="a"})'
    q = build_queries("istio", "", None, 60, 2, overrides={"cpu_cores": cpu, "error_rate": "my_ratio"})
    assert q["cpu_cores"] == cpu
    assert q["error_rate"] == "my_ratio"
    assert "memory_bytes" not in q
    assert tuple(q) == tuple(n for n in QUERY_NAMES if n not in ("memory_bytes", "instances", "errors_counter"))


def test_counter_overrides_and_the_optional_errors_counter():
    q = build_queries("http", overrides={"errors_counter": 'my_errors_total{app="a"}',
                                         "requests_counter": 'my_requests_total{app="a"}'})
    assert q["errors_counter"] == 'my_errors_total{app="a"}' and q["requests_counter"] == 'my_requests_total{app="a"}'
    assert tuple(q) == QUERY_NAMES  # the stable order, errors_counter between the two counters


@pytest.mark.parametrize("old,new", [("requests_increase", "requests_counter"), ("errors_increase", "errors_counter"),
                                     ("latency_buckets_increase", "latency_buckets_counter")])
def test_old_increase_names_point_to_the_new_ones(old, new):
    with pytest.raises(QueryConfigError, match=f"'{old}' was renamed '{new}'"):
        build_queries("http", overrides={old: "x"})


def test_unknown_override_name_is_refused():
    with pytest.raises(QueryConfigError, match="unknown query name 'p95'"):
        build_queries("http", overrides={"p95": "x"})


def test_unknown_preset_is_refused():
    with pytest.raises(QueryConfigError, match="unknown preset"):
        build_queries("linkerd")


def test_business_queries_are_verbatim_and_named():
    business = [{"name": "conversion", "query": "sum by (version) (rate(user_conversion_total[1m]))",
                 "minRatioToStable": 0.9}]
    q = build_queries("http", business=business)
    assert q["business:conversion"] == "sum by (version) (rate(user_conversion_total[1m]))"
    assert len(q) == 10
    with pytest.raises(QueryConfigError, match="twice"):
        build_queries("http", business=business * 2)
