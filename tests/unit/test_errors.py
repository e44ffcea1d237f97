"""Errors are told apart by their error condition, also through the exceptions they caused."""

from __future__ import annotations

from pyspark.errors import PySparkAttributeError

from spark_ml.errors import condition, error_summary, first_line, has_condition
from spark_ml.io.models import NEEDS_JVM


def _jvm_only() -> PySparkAttributeError:
    # positional: the keyword names differ between pyspark 3.5 and 4.x
    return PySparkAttributeError(None, "JVM_ATTRIBUTE_NOT_SUPPORTED", {"attr_name": "sparkContext"})


def test_a_jvm_only_attribute_is_known_by_its_condition_also_when_wrapped() -> None:
    assert condition(_jvm_only()) == "JVM_ATTRIBUTE_NOT_SUPPORTED"
    wrapped = RuntimeError("loading the model failed")
    wrapped.__cause__ = _jvm_only()
    assert has_condition(wrapped, NEEDS_JVM)


def test_message_text_alone_is_no_condition() -> None:
    assert not has_condition(ValueError("JVM_ATTRIBUTE_NOT_SUPPORTED sparkContext"), NEEDS_JVM)
    assert condition(ValueError("JVM_ATTRIBUTE_NOT_SUPPORTED")) is None


def test_first_line_takes_the_first_non_blank_line_and_never_fails_on_empty_text() -> None:
    assert first_line("\n\n  Table missing  \n  at line 3\n") == "Table missing"
    assert first_line("") == ""
    assert first_line("   \n \n") == ""
    assert first_line("x" * 400) == "x" * 300
    assert first_line("abcdef", limit=3) == "abc"


def test_an_error_summary_is_its_type_and_first_line() -> None:
    assert error_summary(ValueError("bad value\ntrace")) == "ValueError: bad value"
    assert error_summary(RuntimeError("")) == "RuntimeError"
    assert error_summary(KeyError("col")) == "KeyError: 'col'"
