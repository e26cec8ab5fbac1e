"""The ``on_commit_hooks`` fixture (conftest.py): callbacks run where a real commit would run them.

The suite's cheaper stand-in for ``transaction=True``: if it ran callbacks too
early, too late, twice, or after a rollback, the tests using it would prove
less than they say. These tests pass with real transactions too
(``transaction=True``), which is the point.
"""

import pytest
from django.db import transaction

# Each test twice: with the fixture in a test's transaction, and with real commits.
pytestmark = [
    pytest.mark.parametrize(
        "transactions",
        [
            pytest.param("test_transaction", marks=pytest.mark.django_db),
            pytest.param("real", marks=pytest.mark.django_db(transaction=True)),
        ],
        indirect=True,
    ),
    pytest.mark.usefixtures("on_commit_hooks"),
]


@pytest.fixture(autouse=True)
def transactions(request):
    return request.param


def test_a_callback_runs_when_the_outermost_block_commits_not_before():
    ran = []
    with transaction.atomic():
        with transaction.atomic():
            transaction.on_commit(lambda: ran.append("inner"))
        assert ran == []  # a savepoint released: nothing committed yet
        transaction.on_commit(lambda: ran.append("outer"))
        assert ran == []
    assert ran == ["inner", "outer"]


def test_outside_any_block_a_callback_runs_at_once():
    ran = []
    transaction.on_commit(lambda: ran.append(1))
    assert ran == [1]


def test_a_rolled_back_block_drops_its_callbacks():
    ran = []
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            transaction.on_commit(lambda: ran.append("lost"))
            1 / 0
    with pytest.raises(ZeroDivisionError):
        with transaction.atomic(savepoint=False):
            transaction.on_commit(lambda: ran.append("lost too"))
            1 / 0
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(False)  # the test's own transaction goes on
    with transaction.atomic():
        try:
            with transaction.atomic():
                transaction.on_commit(lambda: ran.append("inner, rolled back"))
                1 / 0
        except ZeroDivisionError:
            pass
        transaction.on_commit(lambda: ran.append("kept"))
    assert ran == ["kept"]


def test_a_callback_registering_another_runs_both():
    ran = []

    def first():
        ran.append("first")
        transaction.on_commit(lambda: ran.append("second"))

    with transaction.atomic():
        transaction.on_commit(first)
    assert ran == ["first", "second"]


def test_an_enclosing_capture_does_not_run_them_again(django_capture_on_commit_callbacks):
    ran = []
    with django_capture_on_commit_callbacks(execute=True) as captured:
        with transaction.atomic():
            transaction.on_commit(lambda: ran.append(1))
    assert ran == [1]
    assert captured == []  # they ran at the commit, and are gone


def test_robust_callbacks_log_their_errors_and_the_rest_run(caplog):
    ran = []

    def broken():
        raise RuntimeError("cache down")

    with transaction.atomic():
        transaction.on_commit(broken, robust=True)
        transaction.on_commit(lambda: ran.append(1))
    assert ran == [1]
    assert "cache down" in caplog.text
