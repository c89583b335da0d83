//! The agent sub-states as the wire contract spells them, and the dispatcher's errors.
//!
//! Parsing is strict: an unknown name is an [`Error::UnknownState`] naming the bad value,
//! never a silent default.

use std::fmt;

/// Everything the dispatcher can refuse. The binding turns each into a Python `ValueError`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A state name (or code) that is not one of the contract's.
    UnknownState { kind: &'static str, value: String },
    /// A job strategy other than `longest_idle` / `skill_level`.
    UnknownStrategy(String),
    /// `skill_level` needs a match skill.
    MissingMatchSkill(String),
    /// A job definition that cannot be used (e.g. a negative count).
    InvalidJob(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownState { kind, value } => write!(f, "unknown {kind} {value:?}"),
            Error::UnknownStrategy(s) => {
                write!(
                    f,
                    "unknown strategy {s:?} (expected 'longest_idle' or 'skill_level')"
                )
            }
            Error::MissingMatchSkill(job) => {
                write!(
                    f,
                    "job-task {job:?}: strategy 'skill_level' needs a match_skill"
                )
            }
            Error::InvalidJob(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

macro_rules! state_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, [$($variant:ident),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in code order (the code of a value is its index here).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name exactly as the wire contract spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// Parses a wire name; an unknown one is an error naming it.
            pub fn parse(s: &str) -> Result<Self, Error> {
                match s {
                    $(stringify!($variant) => Ok($name::$variant),)+
                    _ => Err(Error::UnknownState { kind: $kind, value: s.to_owned() }),
                }
            }

            /// Parses a small-integer code (the index in [`Self::ALL`]).
            pub fn from_code(code: i64) -> Result<Self, Error> {
                usize::try_from(code)
                    .ok()
                    .and_then(|i| Self::ALL.get(i).copied())
                    .ok_or_else(|| Error::UnknownState { kind: $kind, value: code.to_string() })
            }
        }
    };
}

state_enum!(
    /// The agent's availability as the agent sees it.
    AgentState,
    "agent_state",
    [Ready, NotReady, PendingNotReady, Logout, PendingLogout, Busy, WorkNotReady, Unknown]
);

state_enum!(
    /// What the agent's line is doing.
    CallState,
    "call_state",
    [
        Idle,
        Preview,
        Callback,
        Dialing,
        Talking,
        Hold,
        Consult,
        ConferenceOwner,
        ConferencePassive,
        Wrapup
    ]
);

state_enum!(
    /// The agent's relation to an outbound job.
    JobState,
    "job_state",
    [
        JobAttached,
        JobDetached,
        JobEnd,
        JobInbound,
        PendingInbound,
        PendingOutbound,
        PendingManualInbound,
        PendingManualJobMovement,
        PendingJobAttach
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_parse_and_code() {
        for (i, s) in AgentState::ALL.iter().enumerate() {
            assert_eq!(AgentState::parse(s.as_str()), Ok(*s));
            assert_eq!(AgentState::from_code(i as i64), Ok(*s));
        }
        for (i, s) in CallState::ALL.iter().enumerate() {
            assert_eq!(CallState::parse(s.as_str()), Ok(*s));
            assert_eq!(CallState::from_code(i as i64), Ok(*s));
        }
        for (i, s) in JobState::ALL.iter().enumerate() {
            assert_eq!(JobState::parse(s.as_str()), Ok(*s));
            assert_eq!(JobState::from_code(i as i64), Ok(*s));
        }
    }

    #[test]
    fn unknown_names_and_codes_are_errors_naming_the_value() {
        let e = AgentState::parse("ready").unwrap_err();
        assert_eq!(e.to_string(), "unknown agent_state \"ready\"");
        assert!(CallState::from_code(10)
            .unwrap_err()
            .to_string()
            .contains("10"));
        assert!(JobState::from_code(-1).is_err());
    }
}
