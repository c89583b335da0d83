//! The pool of available agents, indexed per job-task, and the matching of calls to them.
//!
//! Every agent the service reports is kept as a record (its last reported state). A record is
//! *available* when [`is_available`] says so for the job-task it is attached to; available
//! agents sit in that job-task's ordered set, keyed by the job's strategy, so that
//!
//! * `update`, `remove`: O(log n) (one hash look-up, at most one removal from and one insertion
//!   into an ordered set, a `SortedSet`: a sorted ring buffer up to 256 keys, else a B-tree);
//! * `match_call`: O(log n), the first key of one ordered set, never a scan of the pool;
//! * `set_job`, `remove_job`: O(k log k) for the k agents attached to that job-task.
//!
//! With 100,000 agents the time goes in cache misses, so the layout keeps them few: 64-byte
//! map buckets holding an agent's id and record, job-tasks in a vector referred to by index,
//! and batches (`update_many`, `match_many`) whose look-ups are done ahead so that their misses
//! overlap (docs/dispatcher.md).
//!
//! Matching *reserves* the chosen agent: it leaves the available set until the next `update`
//! for it, which states the agent's real state (re-adding it if the call did not reach it).

use rustc_hash::{FxHashMap, FxHashSet};

pub use crate::ordid::MapId;
use crate::sorted::SortedSet;
use crate::state::{AgentState, CallState, Error, JobState};

/// An agent's skills: `(name, level)`, as reported.
pub type Skills = Vec<(Box<str>, i32)>;

/// How a job-task picks among its available agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// The agent idle the longest (smallest `idle_since_ms`) first.
    LongestIdle,
    /// The highest level in the job's match skill first, then the longest idle.
    SkillLevel,
}

impl Strategy {
    /// Parses `"longest_idle"` or `"skill_level"`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "longest_idle" => Ok(Strategy::LongestIdle),
            "skill_level" => Ok(Strategy::SkillLevel),
            _ => Err(Error::UnknownStrategy(s.to_owned())),
        }
    }

    /// The name `parse` accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest_idle",
            Strategy::SkillLevel => "skill_level",
        }
    }
}

/// What the pool needs to know about a job-task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobConfig {
    pub strategy: Strategy,
    /// The skill whose level ranks agents under [`Strategy::SkillLevel`].
    pub match_skill: Option<Box<str>>,
    /// Whether an agent must be nailed up to take this job's calls (true for every outbound
    /// campaign type by default).
    pub needs_nailing: bool,
}

impl JobConfig {
    /// Checks the combination (a `skill_level` job needs its match skill).
    pub fn new(
        job_task: &str,
        strategy: Strategy,
        match_skill: Option<&str>,
        needs_nailing: bool,
    ) -> Result<Self, Error> {
        if strategy == Strategy::SkillLevel && match_skill.is_none() {
            return Err(Error::MissingMatchSkill(job_task.to_owned()));
        }
        Ok(JobConfig {
            strategy,
            match_skill: match_skill.map(Box::from),
            needs_nailing,
        })
    }
}

/// The part of an agent's state that decides availability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentStatus {
    pub agent_state: AgentState,
    pub call_state: CallState,
    pub job_state: JobState,
    pub nailed: bool,
}

/// The availability rule, in one place.
///
/// `job` is the configuration of the job-task the agent is attached to, or `None` when the
/// agent is attached to none or to one the pool does not know. An agent is available iff it is
/// attached to a known job-task, `Ready` (so not `PendingNotReady`), `Idle`, `JobAttached` (so
/// not marked for inbound: `JobInbound`, `PendingInbound`, `PendingManualInbound` are other
/// job states) and nailed up when the job needs nailing.
pub fn is_available(status: &AgentStatus, job: Option<&JobConfig>) -> bool {
    let Some(job) = job else { return false };
    status.agent_state == AgentState::Ready
        && status.call_state == CallState::Idle
        && status.job_state == JobState::JobAttached
        && (status.nailed || !job.needs_nailing)
}

/// The order of a job-task's available set: first key = next agent to get a call.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    /// `-level` in the match skill (`i64::MAX` when the agent lacks it); 0 for longest idle.
    rank: i64,
    idle_since_ms: i64,
    agent_id: MapId,
}

fn rank(job: &JobConfig, skills: &[(Box<str>, i32)]) -> i64 {
    match (job.strategy, &job.match_skill) {
        (Strategy::SkillLevel, Some(skill)) => skills
            .iter()
            .find(|(name, _)| name == skill)
            .map_or(i64::MAX, |&(_, level)| -i64::from(level)),
        _ => 0,
    }
}

/// `AgentRec::rank` when not ranked (no real rank is this low: levels are `i32`).
const UNRANKED: i64 = i64::MIN;
/// `AgentRec::job` when the agent is attached to no job-task.
const NO_JOB: u32 = u32::MAX;

/// An agent's record, kept small (with its 24-byte id as the map key, one 64-byte bucket) so
/// that an update touches one cache line of the agents map. The id itself is the map key (the
/// callers always have it at hand), the job-task an index into `Pool::jobs`.
#[derive(Debug)]
struct AgentRec {
    idle_since_ms: i64,
    /// The rank under its job-task's strategy, or [`UNRANKED`]; always set while the agent is
    /// in an available set (cleared only after it left, when its skills or job-task change).
    rank: i64,
    /// Index in `Pool::jobs`, or [`NO_JOB`].
    job: u32,
    status: AgentStatus,
    skills: Box<[(Box<str>, i32)]>,
}

// The layout the comment above relies on: key and record in one 64-byte bucket.
const _: () = assert!(std::mem::size_of::<(MapId, AgentRec)>() == 64);

impl AgentRec {
    fn key(&self, id: MapId) -> Key {
        debug_assert!(self.rank != UNRANKED, "ranked while available");
        Key {
            rank: self.rank,
            idle_since_ms: self.idle_since_ms,
            agent_id: id,
        }
    }
}

/// Rows per batch in `update_many` (see there).
pub const BATCH: usize = 32;

#[derive(Debug)]
struct JobEntry {
    name: MapId,
    config: Option<JobConfig>,
    /// Every agent whose record names this job-task, available or not.
    members: FxHashSet<MapId>,
    /// Ordered by [`Key`]; see [`SortedSet`] for its two forms.
    available: SortedSet<Key>,
}

/// One agent's report, as `update` takes it.
#[derive(Clone, Debug)]
pub struct AgentRow<'a> {
    pub agent_id: &'a str,
    pub job_task: Option<&'a str>,
    pub status: AgentStatus,
    pub idle_since_ms: i64,
    /// `None` keeps the skills last reported (none for a new agent).
    pub skills: Option<Skills>,
}

/// The available agents of every job-task.
///
/// Invariant: an agent is in its job-task's available set iff the job-task is defined,
/// [`is_available`] holds for its record and it is not reserved. So the set an agent sits in
/// and its key follow from its record, and a match does not need to touch the record at all
/// (it only adds the id to the small `reserved` set).
///
/// Job-tasks live in a vector (`jobs`, slots of removed ones reused through `free_jobs`) and
/// records refer to them by index: an update for an agent staying on its job-task compares the
/// name in place instead of hashing it.
#[derive(Debug, Default)]
pub struct Pool {
    agents: FxHashMap<MapId, AgentRec>,
    jobs: Vec<JobEntry>,
    job_index: FxHashMap<MapId, u32>,
    free_jobs: Vec<u32>,
    /// Matched and not updated since.
    reserved: FxHashSet<MapId>,
    total: usize,
}

impl Pool {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `job_task`, created (with no config) if unknown.
    fn job_slot(&mut self, job_task: &str) -> u32 {
        if let Some(&j) = self.job_index.get(job_task) {
            return j;
        }
        let entry = JobEntry {
            name: MapId::new(job_task),
            config: None,
            members: FxHashSet::default(),
            available: SortedSet::default(),
        };
        let j = match self.free_jobs.pop() {
            Some(j) => {
                self.jobs[j as usize] = entry;
                j
            }
            None => {
                self.jobs.push(entry);
                u32::try_from(self.jobs.len() - 1).expect("fewer than 2^32 job-tasks")
            }
        };
        self.job_index.insert(MapId::new(job_task), j);
        j
    }

    /// Drops a job-task slot with no config and no member.
    fn maybe_free_job(&mut self, j: u32) {
        let entry = &mut self.jobs[j as usize];
        if entry.config.is_none() && entry.members.is_empty() {
            self.job_index.remove(entry.name.as_str());
            entry.name = MapId::new("");
            entry.members = FxHashSet::default();
            self.free_jobs.push(j);
        }
    }

    /// Defines or redefines a job-task; its attached agents are re-evaluated and re-ranked.
    pub fn set_job(&mut self, job_task: &str, config: JobConfig) {
        let j = self.job_slot(job_task);
        let Pool {
            agents,
            jobs,
            total,
            reserved,
            ..
        } = self;
        let entry = &mut jobs[j as usize];
        entry.config = Some(config);
        *total -= entry.available.len();
        entry.available.clear();
        let config = entry.config.as_ref().expect("set above");
        for id in &entry.members {
            let rec = agents.get_mut(id.as_str()).expect("member has a record");
            rec.rank = rank(config, &rec.skills);
            if is_available(&rec.status, Some(config)) && !reserved.contains(id) {
                entry.available.insert(rec.key(id.clone()));
                *total += 1;
            }
        }
    }

    /// Forgets a job-task: its agents stay recorded but leave the available set (they come
    /// back if the job-task is defined again).
    pub fn remove_job(&mut self, job_task: &str) {
        let Some(&j) = self.job_index.get(job_task) else {
            return;
        };
        let entry = &mut self.jobs[j as usize];
        entry.config = None;
        self.total -= entry.available.len();
        entry.available.clear();
        self.maybe_free_job(j);
    }

    /// Whether the job-task is defined.
    pub fn has_job(&self, job_task: &str) -> bool {
        self.job_index
            .get(job_task)
            .is_some_and(|&j| self.jobs[j as usize].config.is_some())
    }

    /// Records an agent's state; returns whether it is available afterwards. Clears a
    /// reservation made by `match_call`.
    pub fn update(&mut self, row: AgentRow<'_>) -> bool {
        let id = MapId::new(row.agent_id);
        let was_reserved = !self.reserved.is_empty() && self.reserved.remove(&id);
        let (old_job, was_in_set) = match self.agents.get(&id) {
            Some(rec) => {
                let in_set = !was_reserved
                    && rec.job != NO_JOB
                    && is_available(&rec.status, self.jobs[rec.job as usize].config.as_ref());
                (rec.job, in_set)
            }
            None => {
                self.agents.insert(
                    id.clone(),
                    AgentRec {
                        idle_since_ms: row.idle_since_ms,
                        rank: UNRANKED,
                        job: NO_JOB,
                        status: row.status,
                        skills: Box::default(),
                    },
                );
                (NO_JOB, false)
            }
        };
        // The job-task it is on after this row.
        let same_job = match row.job_task {
            None => old_job == NO_JOB,
            Some(name) => old_job != NO_JOB && self.jobs[old_job as usize].name.as_str() == name,
        };
        let new_job = if same_job {
            old_job
        } else {
            match row.job_task {
                None => NO_JOB,
                Some(name) => self.job_slot(name),
            }
        };
        let Pool {
            agents,
            jobs,
            total,
            ..
        } = self;
        let rec = agents.get_mut(&id).expect("recorded above");
        let old_key = was_in_set.then(|| rec.key(id.clone()));
        rec.status = row.status;
        rec.idle_since_ms = row.idle_since_ms;
        if let Some(skills) = row.skills {
            rec.skills = skills.into_boxed_slice();
            rec.rank = UNRANKED;
        }
        if !same_job {
            rec.rank = UNRANKED;
            rec.job = new_job;
        }
        let now_available = new_job != NO_JOB && {
            let entry = &jobs[new_job as usize];
            match entry.config.as_ref() {
                Some(config) if is_available(&rec.status, Some(config)) => {
                    if rec.rank == UNRANKED {
                        rec.rank = rank(config, &rec.skills);
                    }
                    true
                }
                _ => false,
            }
        };
        let new_key = now_available.then(|| rec.key(id.clone()));
        match (old_key, new_key) {
            (Some(old), Some(new)) if same_job => {
                if old != new {
                    let set = &mut jobs[new_job as usize].available;
                    set.remove(&old);
                    set.insert(new);
                }
            }
            (old, new) => {
                if let Some(old) = old {
                    jobs[old_job as usize].available.remove(&old);
                    *total -= 1;
                }
                if let Some(new) = new {
                    jobs[new_job as usize].available.insert(new);
                    *total += 1;
                }
            }
        }
        if !same_job {
            if old_job != NO_JOB {
                jobs[old_job as usize].members.remove(&id);
            }
            if new_job != NO_JOB {
                jobs[new_job as usize].members.insert(id);
            }
            if old_job != NO_JOB {
                self.maybe_free_job(old_job);
            }
        }
        now_available
    }

    /// `update` for each row in order; returns the total available afterwards.
    ///
    /// Rows are taken [`BATCH`] at a time: the records of a batch are looked up first, all
    /// independent of one another, so that their cache misses overlap (memory-level
    /// parallelism) instead of each update waiting for its own; the updates then find them in
    /// cache. The result is the same as `update` row by row.
    pub fn update_many<'a>(&mut self, rows: impl IntoIterator<Item = AgentRow<'a>>) -> usize {
        let mut batch: Vec<AgentRow<'a>> = Vec::with_capacity(BATCH);
        let mut rows = rows.into_iter();
        loop {
            batch.extend(rows.by_ref().take(BATCH));
            if batch.is_empty() {
                return self.total;
            }
            self.warm(batch.iter().map(|r| r.agent_id));
            for row in batch.drain(..) {
                self.update(row);
            }
        }
    }

    /// Looks up the records of `agent_ids` (and the head of their job-task's available set)
    /// without changing anything: a prefetch for a batch of updates.
    pub fn warm<'a>(&self, agent_ids: impl IntoIterator<Item = &'a str>) {
        for id in agent_ids {
            if let Some(rec) = self.agents.get(id) {
                std::hint::black_box(rec.job);
            }
        }
    }

    /// Forgets an agent (e.g. logged out).
    pub fn remove(&mut self, agent_id: &str) {
        let was_reserved = self.reserved.remove(agent_id);
        let Some((id, rec)) = self.agents.remove_entry(agent_id) else {
            return;
        };
        if rec.job != NO_JOB {
            let entry = &mut self.jobs[rec.job as usize];
            if !was_reserved && is_available(&rec.status, entry.config.as_ref()) {
                entry.available.remove(&rec.key(id.clone()));
                self.total -= 1;
            }
            entry.members.remove(&id);
            self.maybe_free_job(rec.job);
        }
    }

    /// Picks the agent for a call on `job_task` by the job's strategy and reserves it, or
    /// `None` when the job-task has no available agent (or is unknown).
    pub fn match_call(&mut self, job_task: &str) -> Option<MapId> {
        let &j = self.job_index.get(job_task)?;
        let key = self.jobs[j as usize].available.pop_first()?;
        self.total -= 1;
        self.reserved.insert(key.agent_id.clone());
        Some(key.agent_id)
    }

    /// `match_call` for each job-task in order, [`BATCH`] at a time with the heads of their
    /// available sets looked up first (see `update_many`).
    pub fn match_many<'a>(
        &mut self,
        job_tasks: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Option<MapId>> {
        let mut out = Vec::new();
        let mut batch: Vec<&'a str> = Vec::with_capacity(BATCH);
        let mut job_tasks = job_tasks.into_iter();
        loop {
            batch.extend(job_tasks.by_ref().take(BATCH));
            if batch.is_empty() {
                return out;
            }
            self.warm_jobs(batch.iter().copied());
            out.extend(batch.drain(..).map(|j| self.match_call(j)));
        }
    }

    /// Looks up the first available agent of each job-task without changing anything: a
    /// prefetch for a batch of matches.
    pub fn warm_jobs<'a>(&self, job_tasks: impl IntoIterator<Item = &'a str>) {
        for job in job_tasks {
            if let Some(&j) = self.job_index.get(job) {
                if let Some(first) = self.jobs[j as usize].available.first() {
                    std::hint::black_box(first.rank);
                }
            }
        }
    }

    /// Whether the agent is in an available set now.
    pub fn is_available(&self, agent_id: &str) -> bool {
        let Some(rec) = self.agents.get(agent_id) else {
            return false;
        };
        if rec.job == NO_JOB {
            return false;
        }
        is_available(&rec.status, self.jobs[rec.job as usize].config.as_ref())
            && !self.reserved.contains(agent_id)
    }

    /// How many agents are available for `job_task`.
    pub fn available(&self, job_task: &str) -> usize {
        self.job_index
            .get(job_task)
            .map_or(0, |&j| self.jobs[j as usize].available.len())
    }

    /// How many agents are available in all.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many agents are recorded (available or not).
    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    /// A pool with the same job-tasks and no agent.
    pub fn without_agents(&self) -> Pool {
        let mut pool = Pool::default();
        for e in &self.jobs {
            if let Some(config) = &e.config {
                let j = pool.job_slot(e.name.as_str());
                pool.jobs[j as usize].config = Some(config.clone());
            }
        }
        pool
    }

    /// Forgets every agent (keeping the job-tasks) and loads `rows`, as on a failover takeover.
    pub fn rebuild<'a>(&mut self, rows: impl IntoIterator<Item = AgentRow<'a>>) {
        *self = self.without_agents();
        for row in rows {
            self.update(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(nailed: bool) -> AgentStatus {
        AgentStatus {
            agent_state: AgentState::Ready,
            call_state: CallState::Idle,
            job_state: JobState::JobAttached,
            nailed,
        }
    }

    fn row<'a>(id: &'a str, job: &'a str, idle: i64, level: i32) -> AgentRow<'a> {
        AgentRow {
            agent_id: id,
            job_task: Some(job),
            status: ready(true),
            idle_since_ms: idle,
            skills: Some(vec![("sales".into(), level)]),
        }
    }

    fn job(strategy: Strategy) -> JobConfig {
        let skill = (strategy == Strategy::SkillLevel).then_some("sales");
        JobConfig::new("j", strategy, skill, true).unwrap()
    }

    #[test]
    fn availability_needs_ready_idle_attached_and_nailing_when_required() {
        let nailing = job(Strategy::LongestIdle);
        let no_nailing = JobConfig {
            needs_nailing: false,
            ..nailing.clone()
        };
        assert!(is_available(&ready(true), Some(&nailing)));
        assert!(!is_available(&ready(false), Some(&nailing)));
        assert!(is_available(&ready(false), Some(&no_nailing)));
        assert!(!is_available(&ready(true), None));
        for s in AgentState::ALL.iter().filter(|s| **s != AgentState::Ready) {
            let st = AgentStatus {
                agent_state: *s,
                ..ready(true)
            };
            assert!(!is_available(&st, Some(&no_nailing)), "{s:?}");
        }
        for s in CallState::ALL.iter().filter(|s| **s != CallState::Idle) {
            let st = AgentStatus {
                call_state: *s,
                ..ready(true)
            };
            assert!(!is_available(&st, Some(&no_nailing)), "{s:?}");
        }
        for s in JobState::ALL
            .iter()
            .filter(|s| **s != JobState::JobAttached)
        {
            let st = AgentStatus {
                job_state: *s,
                ..ready(true)
            };
            assert!(!is_available(&st, Some(&no_nailing)), "{s:?}");
        }
    }

    #[test]
    fn skill_level_without_match_skill_is_refused() {
        assert_eq!(
            JobConfig::new("j", Strategy::SkillLevel, None, true),
            Err(Error::MissingMatchSkill("j".into()))
        );
        assert!(Strategy::parse("random").is_err());
    }

    #[test]
    fn longest_idle_picks_smallest_idle_since_then_agent_id() {
        let mut p = Pool::new();
        p.set_job("j", job(Strategy::LongestIdle));
        p.update(row("b", "j", 5, 1));
        p.update(row("a", "j", 5, 1));
        p.update(row("c", "j", 3, 9));
        assert_eq!(p.len(), 3);
        let got: Vec<_> = p.match_many(["j", "j", "j", "j"]).into_iter().collect();
        let got: Vec<Option<&str>> = got.iter().map(|o| o.as_deref()).collect();
        assert_eq!(got, vec![Some("c"), Some("a"), Some("b"), None]);
        assert!(p.is_empty());
    }

    #[test]
    fn skill_level_picks_highest_level_then_longest_idle() {
        let mut p = Pool::new();
        p.set_job("j", job(Strategy::SkillLevel));
        p.update(row("a", "j", 1, 3));
        p.update(row("b", "j", 9, 7));
        p.update(row("c", "j", 2, 7));
        p.update(AgentRow {
            skills: Some(vec![]),
            ..row("d", "j", 0, 0)
        });
        let got: Vec<_> = p.match_many(["j"; 4]);
        let got: Vec<Option<&str>> = got.iter().map(|o| o.as_deref()).collect();
        assert_eq!(got, vec![Some("c"), Some("b"), Some("a"), Some("d")]);
    }

    #[test]
    fn a_match_reserves_until_the_next_update() {
        let mut p = Pool::new();
        p.set_job("j", job(Strategy::LongestIdle));
        p.update(row("a", "j", 1, 1));
        assert_eq!(p.match_call("j").as_deref(), Some("a"));
        assert!(!p.is_available("a"));
        p.set_job("j", job(Strategy::LongestIdle)); // redefinition keeps the reservation
        assert!(!p.is_available("a"));
        assert!(p.update(AgentRow {
            skills: None,
            ..row("a", "j", 7, 1)
        }));
        assert_eq!(p.available("j"), 1);
    }

    #[test]
    fn state_changes_move_agents_in_and_out() {
        let mut p = Pool::new();
        p.set_job("j", job(Strategy::LongestIdle));
        p.set_job("k", job(Strategy::LongestIdle));
        assert!(p.update(row("a", "j", 1, 1)));
        let talking = AgentStatus {
            call_state: CallState::Talking,
            ..ready(true)
        };
        assert!(!p.update(AgentRow {
            status: talking,
            ..row("a", "j", 1, 1)
        }));
        assert_eq!((p.len(), p.available("j")), (0, 0));
        assert!(p.update(row("a", "k", 2, 1)));
        assert_eq!((p.available("j"), p.available("k")), (0, 1));
        assert!(!p.update(AgentRow {
            job_task: None,
            ..row("a", "k", 2, 1)
        }));
        assert!(p.update(row("a", "k", 2, 1)));
        p.remove("a");
        assert_eq!((p.len(), p.agent_count()), (0, 0));
        assert_eq!(p.match_call("k"), None);
    }

    #[test]
    fn unknown_and_removed_jobs_hold_no_available_agents() {
        let mut p = Pool::new();
        assert!(!p.update(row("a", "j", 1, 1)));
        p.set_job("j", job(Strategy::LongestIdle));
        assert!(p.is_available("a"));
        p.remove_job("j");
        assert!(!p.is_available("a"));
        assert_eq!(p.match_call("j"), None);
        p.set_job("j", job(Strategy::LongestIdle));
        assert_eq!(p.match_call("j").as_deref(), Some("a"));
    }

    #[test]
    fn redefining_a_job_re_ranks_and_re_checks_nailing() {
        let mut p = Pool::new();
        p.set_job("j", job(Strategy::LongestIdle));
        p.update(row("a", "j", 1, 1));
        p.update(row("b", "j", 2, 5));
        p.update(AgentRow {
            status: ready(false),
            ..row("c", "j", 0, 9)
        });
        assert_eq!(p.available("j"), 2);
        p.set_job(
            "j",
            JobConfig {
                needs_nailing: false,
                ..job(Strategy::SkillLevel)
            },
        );
        assert_eq!(p.available("j"), 3);
        assert_eq!(p.match_call("j").as_deref(), Some("c"));
        assert_eq!(p.match_call("j").as_deref(), Some("b"));
    }

    #[test]
    fn rebuild_replaces_agents_and_keeps_jobs() {
        let mut p = Pool::new();
        p.set_job("j", job(Strategy::LongestIdle));
        p.update(row("a", "j", 1, 1));
        p.update(row("z", "gone", 1, 1));
        p.rebuild([
            row("b", "j", 1, 1),
            row("c", "j", 0, 1),
            row("b", "j", 3, 1),
        ]);
        assert!(!p.is_available("a"));
        assert_eq!((p.len(), p.agent_count()), (2, 2));
        assert_eq!(p.match_call("j").as_deref(), Some("c"));
        assert_eq!(p.match_call("j").as_deref(), Some("b"));
    }
}
