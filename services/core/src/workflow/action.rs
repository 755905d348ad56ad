//! The actions a workflow's transitions are made of: the verbs of the ProcedureService's RPCs,
//! plus the steps of the Planning Act's detailed-plan procedure that no other type has.
//!
//! A closed set: a stored workflow naming an action the service cannot perform is refused when
//! it is loaded, not when an official first presses the button.

use std::fmt;

/// An action on a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Hand in a draft (`SubmitProcedure`).
    Submit,
    /// Assign (or reassign) the official in charge (`AssignProcedure`).
    Assign,
    /// Ask an authority to coordinate (`RequestCoordination`).
    RequestCoordination,
    /// An authority's answer, recorded by an official or the authority, or deemed given by the
    /// background job when silence counts as agreement (`RecordCoordinationResponse`).
    RecordCoordinationResponse,
    /// Put the procedure on public display (`StartPublicDisplay`).
    StartPublicDisplay,
    /// Record an opinion received during the display (`RecordPublicOpinion`).
    RecordPublicOpinion,
    /// End the public display (`EndPublicDisplay`).
    EndPublicDisplay,
    /// Suspend the decision period, waiting for the applicant (`PauseClock`).
    PauseClock,
    /// Continue the decision period (`ResumeClock`).
    ResumeClock,
    /// Grant: the permit, the design criteria; for a detailed plan its final adoption
    /// (kehtestamine) (`Decide` with grant).
    DecideGrant,
    /// Refuse: the permit, the design criteria; for a detailed plan the refusal to initiate, the
    /// ending of its preparation or the refusal of final adoption (`Decide` with refuse).
    DecideRefuse,
    /// End the procedure at the applicant's or the municipality's wish (`Withdraw`).
    Withdraw,
    /// Detailed plan: the decision to initiate (algatamine).
    Initiate,
    /// Detailed plan: adoption (vastuvõtmine) of the prepared plan, before its public display.
    Adopt,
    /// Detailed plan: hold a public discussion (avalik arutelu) of the objections raised.
    StartPublicDiscussion,
    /// Detailed plan: no objections were raised, so no public discussion is held.
    SkipPublicDiscussion,
    /// Detailed plan: the public discussion has been held.
    EndPublicDiscussion,
}

impl Action {
    /// Every action, in the order above.
    pub const ALL: [Action; 17] = [
        Action::Submit,
        Action::Assign,
        Action::RequestCoordination,
        Action::RecordCoordinationResponse,
        Action::StartPublicDisplay,
        Action::RecordPublicOpinion,
        Action::EndPublicDisplay,
        Action::PauseClock,
        Action::ResumeClock,
        Action::DecideGrant,
        Action::DecideRefuse,
        Action::Withdraw,
        Action::Initiate,
        Action::Adopt,
        Action::StartPublicDiscussion,
        Action::SkipPublicDiscussion,
        Action::EndPublicDiscussion,
    ];

    /// The stored (snake_case) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Assign => "assign",
            Action::RequestCoordination => "request_coordination",
            Action::RecordCoordinationResponse => "record_coordination_response",
            Action::StartPublicDisplay => "start_public_display",
            Action::RecordPublicOpinion => "record_public_opinion",
            Action::EndPublicDisplay => "end_public_display",
            Action::PauseClock => "pause_clock",
            Action::ResumeClock => "resume_clock",
            Action::DecideGrant => "decide_grant",
            Action::DecideRefuse => "decide_refuse",
            Action::Withdraw => "withdraw",
            Action::Initiate => "initiate",
            Action::Adopt => "adopt",
            Action::StartPublicDiscussion => "start_public_discussion",
            Action::SkipPublicDiscussion => "skip_public_discussion",
            Action::EndPublicDiscussion => "end_public_discussion",
        }
    }

    /// The action a stored name means (exact); `None` for anything else.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
