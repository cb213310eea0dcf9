import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
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

class CircuitConfig(_message.Message):
    __slots__ = ("enabled", "failure_threshold", "failure_rate_threshold", "minimum_calls", "window", "slow_call_duration", "slow_call_rate_threshold", "open_duration", "backoff_multiplier", "max_open_duration", "half_open_max_calls", "success_threshold", "permit_ttl", "jitter", "mode")
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
    def __init__(self, enabled: _Optional[bool] = ..., failure_threshold: _Optional[int] = ..., failure_rate_threshold: _Optional[float] = ..., minimum_calls: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., slow_call_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., slow_call_rate_threshold: _Optional[float] = ..., open_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., backoff_multiplier: _Optional[float] = ..., max_open_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., half_open_max_calls: _Optional[int] = ..., success_threshold: _Optional[int] = ..., permit_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., jitter: _Optional[float] = ..., mode: _Optional[_Union[Mode, str]] = ...) -> None: ...

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
    __slots__ = ("circuit", "state", "config", "stats", "generation", "since", "open_until", "config_sources")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    OPEN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SOURCES_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    state: State
    config: CircuitConfig
    stats: CircuitStats
    generation: int
    since: _timestamp_pb2.Timestamp
    open_until: _timestamp_pb2.Timestamp
    config_sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, circuit: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., stats: _Optional[_Union[CircuitStats, _Mapping]] = ..., generation: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., open_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., config_sources: _Optional[_Iterable[str]] = ...) -> None: ...

class CircuitEvent(_message.Message):
    __slots__ = ("circuit", "from_state", "to_state", "at", "reason", "event_id", "generation", "open_until", "stats", "actor")
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
    def __init__(self, circuit: _Optional[str] = ..., from_state: _Optional[_Union[State, str]] = ..., to_state: _Optional[_Union[State, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., event_id: _Optional[str] = ..., generation: _Optional[int] = ..., open_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stats: _Optional[_Union[CircuitStats, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class AcquireRequest(_message.Message):
    __slots__ = ("circuit",)
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    def __init__(self, circuit: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("circuits",)
    CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    circuits: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, circuits: _Optional[_Iterable[str]] = ...) -> None: ...

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
    __slots__ = ("circuit", "permit", "outcome", "duration", "retry_after")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    PERMIT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    permit: str
    outcome: Outcome
    duration: _duration_pb2.Duration
    retry_after: _duration_pb2.Duration
    def __init__(self, circuit: _Optional[str] = ..., permit: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("state", "duplicate", "stale")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    state: State
    duplicate: bool
    stale: bool
    def __init__(self, state: _Optional[_Union[State, str]] = ..., duplicate: _Optional[bool] = ..., stale: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("circuit", "limit")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    limit: int
    def __init__(self, circuit: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("target", "actor", "at", "old_config", "new_config")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    OLD_CONFIG_FIELD_NUMBER: _ClassVar[int]
    NEW_CONFIG_FIELD_NUMBER: _ClassVar[int]
    target: str
    actor: str
    at: _timestamp_pb2.Timestamp
    old_config: CircuitConfig
    new_config: CircuitConfig
    def __init__(self, target: _Optional[str] = ..., actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., old_config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., new_config: _Optional[_Union[CircuitConfig, _Mapping]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("transition", "config_change")
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CHANGE_FIELD_NUMBER: _ClassVar[int]
    transition: CircuitEvent
    config_change: ConfigChange
    def __init__(self, transition: _Optional[_Union[CircuitEvent, _Mapping]] = ..., config_change: _Optional[_Union[ConfigChange, _Mapping]] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("circuit", "state")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    state: State
    def __init__(self, circuit: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ...) -> None: ...

class ForceStateResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: CircuitStatus
    def __init__(self, status: _Optional[_Union[CircuitStatus, _Mapping]] = ...) -> None: ...

class ConfigureRequest(_message.Message):
    __slots__ = ("circuit", "pattern", "config", "preset", "replace")
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    circuit: str
    pattern: str
    config: CircuitConfig
    preset: str
    replace: bool
    def __init__(self, circuit: _Optional[str] = ..., pattern: _Optional[str] = ..., config: _Optional[_Union[CircuitConfig, _Mapping]] = ..., preset: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class ConfigureResponse(_message.Message):
    __slots__ = ("status", "matched_circuits")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    status: CircuitStatus
    matched_circuits: int
    def __init__(self, status: _Optional[_Union[CircuitStatus, _Mapping]] = ..., matched_circuits: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("at",)
    AT_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("snapshot", "event", "snapshot_complete", "heartbeat", "status")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    snapshot: CircuitStatus
    event: CircuitEvent
    snapshot_complete: SnapshotComplete
    heartbeat: Heartbeat
    status: CircuitStatus
    def __init__(self, snapshot: _Optional[_Union[CircuitStatus, _Mapping]] = ..., event: _Optional[_Union[CircuitEvent, _Mapping]] = ..., snapshot_complete: _Optional[_Union[SnapshotComplete, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., status: _Optional[_Union[CircuitStatus, _Mapping]] = ...) -> None: ...
