import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATE_UNSPECIFIED: _ClassVar[State]
    STATE_CLOSED: _ClassVar[State]
    STATE_OPEN: _ClassVar[State]
    STATE_HALF_OPEN: _ClassVar[State]
    STATE_FORCED_OPEN: _ClassVar[State]
    STATE_DISABLED: _ClassVar[State]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_SUCCESS: _ClassVar[Outcome]
    OUTCOME_FAILURE: _ClassVar[Outcome]
    OUTCOME_TIMEOUT: _ClassVar[Outcome]
    OUTCOME_IGNORED: _ClassVar[Outcome]

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_ENFORCE: _ClassVar[Mode]
    MODE_SHADOW: _ClassVar[Mode]

class DenyReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DENY_REASON_UNSPECIFIED: _ClassVar[DenyReason]
    DENY_REASON_OPEN: _ClassVar[DenyReason]
    DENY_REASON_FORCED_OPEN: _ClassVar[DenyReason]
    DENY_REASON_HALF_OPEN_FULL: _ClassVar[DenyReason]

class TransitionCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSITION_CAUSE_UNSPECIFIED: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_CONSECUTIVE_FAILURES: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_FAILURE_RATE: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_SLOW_CALL_RATE: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_OPEN_DURATION_ELAPSED: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_PROBE_FAILED: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_PROBE_TIMEOUT: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_PROBES_SUCCEEDED: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_RESET: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_FORCED_OPEN: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_DISABLED: _ClassVar[TransitionCause]
    TRANSITION_CAUSE_RELEASED: _ClassVar[TransitionCause]

class Pin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIN_UNSPECIFIED: _ClassVar[Pin]
    PIN_FORCED_OPEN: _ClassVar[Pin]
    PIN_DISABLED: _ClassVar[Pin]
    PIN_NONE: _ClassVar[Pin]

class ReportDisposition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_DISPOSITION_UNSPECIFIED: _ClassVar[ReportDisposition]
    REPORT_DISPOSITION_RECORDED: _ClassVar[ReportDisposition]
    REPORT_DISPOSITION_STALE: _ClassVar[ReportDisposition]
    REPORT_DISPOSITION_DUPLICATE: _ClassVar[ReportDisposition]
    REPORT_DISPOSITION_CONFLICT: _ClassVar[ReportDisposition]

class ConfigSourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_SOURCE_KIND_UNSPECIFIED: _ClassVar[ConfigSourceKind]
    CONFIG_SOURCE_KIND_CIRCUIT: _ClassVar[ConfigSourceKind]
    CONFIG_SOURCE_KIND_PATTERN_RULE: _ClassVar[ConfigSourceKind]
    CONFIG_SOURCE_KIND_PRESET: _ClassVar[ConfigSourceKind]
    CONFIG_SOURCE_KIND_DEFAULTS: _ClassVar[ConfigSourceKind]

class PatternRuleOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PATTERN_RULE_ORIGIN_UNSPECIFIED: _ClassVar[PatternRuleOrigin]
    PATTERN_RULE_ORIGIN_RUNTIME: _ClassVar[PatternRuleOrigin]
    PATTERN_RULE_ORIGIN_CONFIG_FILE: _ClassVar[PatternRuleOrigin]

class RemovalCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REMOVAL_CAUSE_UNSPECIFIED: _ClassVar[RemovalCause]
    REMOVAL_CAUSE_IDLE_EVICTED: _ClassVar[RemovalCause]

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_FIELD: _ClassVar[ErrorReason]
    ERROR_REASON_MALFORMED_REQUEST: _ClassVar[ErrorReason]
    ERROR_REASON_PAGE_TOKEN_INVALID: _ClassVar[ErrorReason]
    ERROR_REASON_RESUME_TOKEN_INVALID: _ClassVar[ErrorReason]
    ERROR_REASON_RESUME_TOKEN_EXPIRED: _ClassVar[ErrorReason]
    ERROR_REASON_CIRCUIT_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_PATTERN_RULE_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_PERMIT_MALFORMED: _ClassVar[ErrorReason]
    ERROR_REASON_PERMIT_FOREIGN: _ClassVar[ErrorReason]
    ERROR_REASON_PERMIT_EXPIRED: _ClassVar[ErrorReason]
    ERROR_REASON_PERMIT_UNKNOWN: _ClassVar[ErrorReason]
    ERROR_REASON_PERMIT_BAD_SIGNATURE: _ClassVar[ErrorReason]
    ERROR_REASON_PATTERN_RULE_FROM_FILE: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_WATCHERS: _ClassVar[ErrorReason]
    ERROR_REASON_WATCHER_TOO_SLOW: _ClassVar[ErrorReason]
    ERROR_REASON_CIRCUIT_CAP_REACHED: _ClassVar[ErrorReason]
    ERROR_REASON_STORE_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_SHUTTING_DOWN: _ClassVar[ErrorReason]
    ERROR_REASON_CREDENTIALS_MISSING: _ClassVar[ErrorReason]
    ERROR_REASON_CREDENTIALS_INVALID: _ClassVar[ErrorReason]
    ERROR_REASON_ROLE_INSUFFICIENT: _ClassVar[ErrorReason]
    ERROR_REASON_INTERNAL: _ClassVar[ErrorReason]
STATE_UNSPECIFIED: State
STATE_CLOSED: State
STATE_OPEN: State
STATE_HALF_OPEN: State
STATE_FORCED_OPEN: State
STATE_DISABLED: State
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_SUCCESS: Outcome
OUTCOME_FAILURE: Outcome
OUTCOME_TIMEOUT: Outcome
OUTCOME_IGNORED: Outcome
MODE_UNSPECIFIED: Mode
MODE_ENFORCE: Mode
MODE_SHADOW: Mode
DENY_REASON_UNSPECIFIED: DenyReason
DENY_REASON_OPEN: DenyReason
DENY_REASON_FORCED_OPEN: DenyReason
DENY_REASON_HALF_OPEN_FULL: DenyReason
TRANSITION_CAUSE_UNSPECIFIED: TransitionCause
TRANSITION_CAUSE_CONSECUTIVE_FAILURES: TransitionCause
TRANSITION_CAUSE_FAILURE_RATE: TransitionCause
TRANSITION_CAUSE_SLOW_CALL_RATE: TransitionCause
TRANSITION_CAUSE_OPEN_DURATION_ELAPSED: TransitionCause
TRANSITION_CAUSE_PROBE_FAILED: TransitionCause
TRANSITION_CAUSE_PROBE_TIMEOUT: TransitionCause
TRANSITION_CAUSE_PROBES_SUCCEEDED: TransitionCause
TRANSITION_CAUSE_RESET: TransitionCause
TRANSITION_CAUSE_FORCED_OPEN: TransitionCause
TRANSITION_CAUSE_DISABLED: TransitionCause
TRANSITION_CAUSE_RELEASED: TransitionCause
PIN_UNSPECIFIED: Pin
PIN_FORCED_OPEN: Pin
PIN_DISABLED: Pin
PIN_NONE: Pin
REPORT_DISPOSITION_UNSPECIFIED: ReportDisposition
REPORT_DISPOSITION_RECORDED: ReportDisposition
REPORT_DISPOSITION_STALE: ReportDisposition
REPORT_DISPOSITION_DUPLICATE: ReportDisposition
REPORT_DISPOSITION_CONFLICT: ReportDisposition
CONFIG_SOURCE_KIND_UNSPECIFIED: ConfigSourceKind
CONFIG_SOURCE_KIND_CIRCUIT: ConfigSourceKind
CONFIG_SOURCE_KIND_PATTERN_RULE: ConfigSourceKind
CONFIG_SOURCE_KIND_PRESET: ConfigSourceKind
CONFIG_SOURCE_KIND_DEFAULTS: ConfigSourceKind
PATTERN_RULE_ORIGIN_UNSPECIFIED: PatternRuleOrigin
PATTERN_RULE_ORIGIN_RUNTIME: PatternRuleOrigin
PATTERN_RULE_ORIGIN_CONFIG_FILE: PatternRuleOrigin
REMOVAL_CAUSE_UNSPECIFIED: RemovalCause
REMOVAL_CAUSE_IDLE_EVICTED: RemovalCause
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_INVALID_FIELD: ErrorReason
ERROR_REASON_MALFORMED_REQUEST: ErrorReason
ERROR_REASON_PAGE_TOKEN_INVALID: ErrorReason
ERROR_REASON_RESUME_TOKEN_INVALID: ErrorReason
ERROR_REASON_RESUME_TOKEN_EXPIRED: ErrorReason
ERROR_REASON_CIRCUIT_NOT_FOUND: ErrorReason
ERROR_REASON_PATTERN_RULE_NOT_FOUND: ErrorReason
ERROR_REASON_PERMIT_MALFORMED: ErrorReason
ERROR_REASON_PERMIT_FOREIGN: ErrorReason
ERROR_REASON_PERMIT_EXPIRED: ErrorReason
ERROR_REASON_PERMIT_UNKNOWN: ErrorReason
ERROR_REASON_PERMIT_BAD_SIGNATURE: ErrorReason
ERROR_REASON_PATTERN_RULE_FROM_FILE: ErrorReason
ERROR_REASON_TOO_MANY_WATCHERS: ErrorReason
ERROR_REASON_WATCHER_TOO_SLOW: ErrorReason
ERROR_REASON_CIRCUIT_CAP_REACHED: ErrorReason
ERROR_REASON_STORE_UNAVAILABLE: ErrorReason
ERROR_REASON_SHUTTING_DOWN: ErrorReason
ERROR_REASON_CREDENTIALS_MISSING: ErrorReason
ERROR_REASON_CREDENTIALS_INVALID: ErrorReason
ERROR_REASON_ROLE_INSUFFICIENT: ErrorReason
ERROR_REASON_INTERNAL: ErrorReason

class CircuitConfig(_message.Message):
    __slots__ = ("enabled", "failure_threshold", "failure_rate_threshold", "minimum_calls", "window", "slow_call_duration", "slow_call_rate_threshold", "open_duration", "backoff_multiplier", "max_open_duration", "half_open_max_calls", "success_threshold", "permit_ttl", "jitter", "mode", "min_distinct_reporters")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    FAILURE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FAILURE_RATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_CALLS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALL_DURATION_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALL_RATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    OPEN_DURATION_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    MAX_OPEN_DURATION_FIELD_NUMBER: _ClassVar[int]
    HALF_OPEN_MAX_CALLS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PERMIT_TTL_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MIN_DISTINCT_REPORTERS_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    failure_threshold: int
    failure_rate_threshold: float
    minimum_calls: int
    window: _duration_pb2.Duration
    slow_call_duration: _duration_pb2.Duration
    slow_call_rate_threshold: float
    open_duration: _duration_pb2.Duration
    backoff_multiplier: float
    max_open_duration: _duration_pb2.Duration
    half_open_max_calls: int
    success_threshold: int
    permit_ttl: _duration_pb2.Duration
    jitter: float
    mode: Mode
    min_distinct_reporters: int
    def __init__(self, enabled: _Optional[bool] = ..., failure_threshold: _Optional[int] = ..., failure_rate_threshold: _Optional[float] = ..., minimum_calls: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., slow_call_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., slow_call_rate_threshold: _Optional[float] = ..., open_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., backoff_multiplier: _Optional[float] = ..., max_open_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., half_open_max_calls: _Optional[int] = ..., success_threshold: _Optional[int] = ..., permit_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., jitter: _Optional[float] = ..., mode: _Optional[_Union[Mode, str]] = ..., min_distinct_reporters: _Optional[int] = ...) -> None: ...

class CircuitStats(_message.Message):
    __slots__ = ("window_calls", "window_failures", "window_slow_calls", "failure_rate", "slow_call_rate", "consecutive_failures", "half_open_in_flight", "half_open_successes", "total_successes", "total_failures", "total_timeouts", "total_ignored", "total_rejections", "reopen_count")
    WINDOW_CALLS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FAILURES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SLOW_CALLS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_RATE_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALL_RATE_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    HALF_OPEN_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    HALF_OPEN_SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FAILURES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TIMEOUTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_IGNORED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    REOPEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    window_calls: int
    window_failures: int
    window_slow_calls: int
    failure_rate: float
    slow_call_rate: float
    consecutive_failures: int
    half_open_in_flight: int
    half_open_successes: int
    total_successes: int
    total_failures: int
    total_timeouts: int
    total_ignored: int
    total_rejections: int
    reopen_count: int
    def __init__(self, window_calls: _Optional[int] = ..., window_failures: _Optional[int] = ..., window_slow_calls: _Optional[int] = ..., failure_rate: _Optional[float] = ..., slow_call_rate: _Optional[float] = ..., consecutive_failures: _Optional[int] = ..., half_open_in_flight: _Optional[int] = ..., half_open_successes: _Optional[int] = ..., total_successes: _Optional[int] = ..., total_failures: _Optional[int] = ..., total_timeouts: _Optional[int] = ..., total_ignored: _Optional[int] = ..., total_rejections: _Optional[int] = ..., reopen_count: _Optional[int] = ...) -> None: ...

class CircuitStatus(_message.Message):
    __slots__ = ("circuit", "state", "config", "stats", "generation", "since", "open_until", "config_sources", "config_source_details")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    OPEN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SOURCES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SOURCE_DETAILS_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    state: State
    config: CircuitConfig
    stats: CircuitStats
    generation: int
    since: _timestamp_pb2.Timestamp
    open_until: _timestamp_pb2.Timestamp
    config_sources: _containers.RepeatedScalarFieldContainer[str]
    config_source_details: _containers.RepeatedCompositeFieldContainer[ConfigSource]
    def __init__(self, circuit: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., stats: _Optional[_Union[CircuitStats, _Mapping]] = ..., generation: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., open_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., config_sources: _Optional[_Iterable[str]] = ..., config_source_details: _Optional[_Iterable[_Union[ConfigSource, _Mapping]]] = ...) -> None: ...

class ConfigSource(_message.Message):
    __slots__ = ("kind", "name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: ConfigSourceKind
    name: str
    def __init__(self, kind: _Optional[_Union[ConfigSourceKind, str]] = ..., name: _Optional[str] = ...) -> None: ...

class Principal(_message.Message):
    __slots__ = ("key_name", "agent_instance_id")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    agent_instance_id: str
    def __init__(self, key_name: _Optional[str] = ..., agent_instance_id: _Optional[str] = ...) -> None: ...

class CircuitEvent(_message.Message):
    __slots__ = ("circuit", "from_state", "to_state", "at", "reason", "event_id", "generation", "open_until", "stats", "actor", "principal", "cause", "failure_reporters")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    OPEN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REPORTERS_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    from_state: State
    to_state: State
    at: _timestamp_pb2.Timestamp
    reason: str
    event_id: str
    generation: int
    open_until: _timestamp_pb2.Timestamp
    stats: CircuitStats
    actor: str
    principal: Principal
    cause: TransitionCause
    failure_reporters: _containers.RepeatedCompositeFieldContainer[Principal]
    def __init__(self, circuit: _Optional[str] = ..., from_state: _Optional[_Union[State, str]] = ..., to_state: _Optional[_Union[State, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., event_id: _Optional[str] = ..., generation: _Optional[int] = ..., open_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stats: _Optional[_Union[CircuitStats, _Mapping]] = ..., actor: _Optional[str] = ..., principal: _Optional[_Union[Principal, _Mapping]] = ..., cause: _Optional[_Union[TransitionCause, str]] = ..., failure_reporters: _Optional[_Iterable[_Union[Principal, _Mapping]]] = ...) -> None: ...

class AcquireRequest(_message.Message):
    __slots__ = ("circuit", "agent_instance_id")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    agent_instance_id: str
    def __init__(self, circuit: _Optional[str] = ..., agent_instance_id: _Optional[str] = ...) -> None: ...

class AcquireResponse(_message.Message):
    __slots__ = ("allowed", "permit", "state", "retry_after", "reason", "shadow_denied")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    PERMIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SHADOW_DENIED_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    permit: str
    state: State
    retry_after: _duration_pb2.Duration
    reason: DenyReason
    shadow_denied: bool
    def __init__(self, allowed: _Optional[bool] = ..., permit: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., reason: _Optional[_Union[DenyReason, str]] = ..., shadow_denied: _Optional[bool] = ...) -> None: ...

class AcquireAnyRequest(_message.Message):
    __slots__ = ("circuits", "agent_instance_id")
    CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    circuits: _containers.RepeatedScalarFieldContainer[str]
    agent_instance_id: str
    def __init__(self, circuits: _Optional[_Iterable[str]] = ..., agent_instance_id: _Optional[str] = ...) -> None: ...

class Denial(_message.Message):
    __slots__ = ("circuit", "state", "retry_after", "reason")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    state: State
    retry_after: _duration_pb2.Duration
    reason: DenyReason
    def __init__(self, circuit: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., reason: _Optional[_Union[DenyReason, str]] = ...) -> None: ...

class AcquireAnyResponse(_message.Message):
    __slots__ = ("allowed", "circuit", "permit", "state", "denials", "retry_after")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    PERMIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DENIALS_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    circuit: str
    permit: str
    state: State
    denials: _containers.RepeatedCompositeFieldContainer[Denial]
    retry_after: _duration_pb2.Duration
    def __init__(self, allowed: _Optional[bool] = ..., circuit: _Optional[str] = ..., permit: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., denials: _Optional[_Iterable[_Union[Denial, _Mapping]]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("circuit", "permit", "outcome", "duration", "retry_after", "agent_instance_id")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    PERMIT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    permit: str
    outcome: Outcome
    duration: _duration_pb2.Duration
    retry_after: _duration_pb2.Duration
    agent_instance_id: str
    def __init__(self, circuit: _Optional[str] = ..., permit: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., agent_instance_id: _Optional[str] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("state", "duplicate", "stale", "disposition", "recorded_outcome")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    RECORDED_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    state: State
    duplicate: bool
    stale: bool
    disposition: ReportDisposition
    recorded_outcome: Outcome
    def __init__(self, state: _Optional[_Union[State, str]] = ..., duplicate: _Optional[bool] = ..., stale: _Optional[bool] = ..., disposition: _Optional[_Union[ReportDisposition, str]] = ..., recorded_outcome: _Optional[_Union[Outcome, str]] = ...) -> None: ...

class BatchReportRequest(_message.Message):
    __slots__ = ("reports",)
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[ReportRequest]
    def __init__(self, reports: _Optional[_Iterable[_Union[ReportRequest, _Mapping]]] = ...) -> None: ...

class BatchReportResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: ReportResponse
    error: _status_pb2.Status
    def __init__(self, response: _Optional[_Union[ReportResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class BatchReportResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchReportResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchReportResult, _Mapping]]] = ...) -> None: ...

class GetStateRequest(_message.Message):
    __slots__ = ("circuit",)
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    def __init__(self, circuit: _Optional[str] = ...) -> None: ...

class GetStateResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: CircuitStatus
    def __init__(self, status: _Optional[_Union[CircuitStatus, _Mapping]] = ...) -> None: ...

class ListCircuitsRequest(_message.Message):
    __slots__ = ("prefix", "state", "page_size", "page_token")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    state: State
    page_size: int
    page_token: str
    def __init__(self, prefix: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCircuitsResponse(_message.Message):
    __slots__ = ("circuits", "next_page_token")
    CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    circuits: _containers.RepeatedCompositeFieldContainer[CircuitStatus]
    next_page_token: str
    def __init__(self, circuits: _Optional[_Iterable[_Union[CircuitStatus, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("circuit", "page_size", "page_token")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    page_size: int
    page_token: str
    def __init__(self, circuit: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("target", "actor", "at", "old_config", "new_config", "circuit", "principal", "new_config_sources")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    OLD_CONFIG_FIELD_NUMBER: _ClassVar[int]
    NEW_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    NEW_CONFIG_SOURCES_FIELD_NUMBER: _ClassVar[int]
    target: str
    actor: str
    at: _timestamp_pb2.Timestamp
    old_config: CircuitConfig
    new_config: CircuitConfig
    circuit: str
    principal: Principal
    new_config_sources: _containers.RepeatedCompositeFieldContainer[ConfigSource]
    def __init__(self, target: _Optional[str] = ..., actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., old_config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., new_config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., circuit: _Optional[str] = ..., principal: _Optional[_Union[Principal, _Mapping]] = ..., new_config_sources: _Optional[_Iterable[_Union[ConfigSource, _Mapping]]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("transition", "config_change")
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CHANGE_FIELD_NUMBER: _ClassVar[int]
    transition: CircuitEvent
    config_change: ConfigChange
    def __init__(self, transition: _Optional[_Union[CircuitEvent, _Mapping]] = ..., config_change: _Optional[_Union[ConfigChange, _Mapping]] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ("circuit",)
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    def __init__(self, circuit: _Optional[str] = ...) -> None: ...

class ResetResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: CircuitStatus
    def __init__(self, status: _Optional[_Union[CircuitStatus, _Mapping]] = ...) -> None: ...

class ForceStateRequest(_message.Message):
    __slots__ = ("circuit", "state", "pin")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PIN_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    state: State
    pin: Pin
    def __init__(self, circuit: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., pin: _Optional[_Union[Pin, str]] = ...) -> None: ...

class ForceStateResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: CircuitStatus
    def __init__(self, status: _Optional[_Union[CircuitStatus, _Mapping]] = ...) -> None: ...

class ConfigureRequest(_message.Message):
    __slots__ = ("circuit", "pattern", "config", "preset", "replace", "precedence", "update_mask")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    PRECEDENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    pattern: str
    config: CircuitConfig
    preset: str
    replace: bool
    precedence: int
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, circuit: _Optional[str] = ..., pattern: _Optional[str] = ..., config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., preset: _Optional[str] = ..., replace: _Optional[bool] = ..., precedence: _Optional[int] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ConfigureResponse(_message.Message):
    __slots__ = ("status", "matched_circuits", "rule")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    status: CircuitStatus
    matched_circuits: int
    rule: PatternRule
    def __init__(self, status: _Optional[_Union[CircuitStatus, _Mapping]] = ..., matched_circuits: _Optional[int] = ..., rule: _Optional[_Union[PatternRule, _Mapping]] = ...) -> None: ...

class PatternRule(_message.Message):
    __slots__ = ("pattern", "precedence", "config", "preset", "origin", "update_time", "updated_by")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    PRECEDENCE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    precedence: int
    config: CircuitConfig
    preset: str
    origin: PatternRuleOrigin
    update_time: _timestamp_pb2.Timestamp
    updated_by: Principal
    def __init__(self, pattern: _Optional[str] = ..., precedence: _Optional[int] = ..., config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., preset: _Optional[str] = ..., origin: _Optional[_Union[PatternRuleOrigin, str]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[_Union[Principal, _Mapping]] = ...) -> None: ...

class ListPatternRulesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPatternRulesResponse(_message.Message):
    __slots__ = ("rules", "next_page_token")
    RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[PatternRule]
    next_page_token: str
    def __init__(self, rules: _Optional[_Iterable[_Union[PatternRule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeletePatternRuleRequest(_message.Message):
    __slots__ = ("pattern",)
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    def __init__(self, pattern: _Optional[str] = ...) -> None: ...

class DeletePatternRuleResponse(_message.Message):
    __slots__ = ("rule", "matched_circuits")
    RULE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    rule: PatternRule
    matched_circuits: int
    def __init__(self, rule: _Optional[_Union[PatternRule, _Mapping]] = ..., matched_circuits: _Optional[int] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("circuits", "prefix", "resume_token", "status_interval")
    CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    circuits: _containers.RepeatedScalarFieldContainer[str]
    prefix: str
    resume_token: str
    status_interval: _duration_pb2.Duration
    def __init__(self, circuits: _Optional[_Iterable[str]] = ..., prefix: _Optional[str] = ..., resume_token: _Optional[str] = ..., status_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SnapshotComplete(_message.Message):
    __slots__ = ("resume_token",)
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resume_token: str
    def __init__(self, resume_token: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("at", "resume_token")
    AT_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    resume_token: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resume_token: _Optional[str] = ...) -> None: ...

class CircuitRemoved(_message.Message):
    __slots__ = ("circuit", "cause", "removal_time")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_TIME_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    cause: RemovalCause
    removal_time: _timestamp_pb2.Timestamp
    def __init__(self, circuit: _Optional[str] = ..., cause: _Optional[_Union[RemovalCause, str]] = ..., removal_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("snapshot", "event", "snapshot_complete", "heartbeat", "status", "config_change", "circuit_removed", "resume_token")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CHANGE_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_REMOVED_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    snapshot: CircuitStatus
    event: CircuitEvent
    snapshot_complete: SnapshotComplete
    heartbeat: Heartbeat
    status: CircuitStatus
    config_change: ConfigChange
    circuit_removed: CircuitRemoved
    resume_token: str
    def __init__(self, snapshot: _Optional[_Union[CircuitStatus, _Mapping]] = ..., event: _Optional[_Union[CircuitEvent, _Mapping]] = ..., snapshot_complete: _Optional[_Union[SnapshotComplete, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., status: _Optional[_Union[CircuitStatus, _Mapping]] = ..., config_change: _Optional[_Union[ConfigChange, _Mapping]] = ..., circuit_removed: _Optional[_Union[CircuitRemoved, _Mapping]] = ..., resume_token: _Optional[str] = ...) -> None: ...
