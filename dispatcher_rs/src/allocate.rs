//! Which agents serve which job-task: an incremental allocator that answers with the moves
//! (attach / detach) needed to reach the allocation rules, never with the whole world.
//!
//! # Model
//!
//! The allocator knows *Ready* agents (their skills with levels, whether idle or busy, and the
//! job-task each is on) and the running job-tasks (required skills, min/max agents, priority,
//! licences). An agent whose `job_task` is `None` is *free*; one whose `job_task` names a known
//! job-task is *on* it and counts towards it (idle or busy); one whose `job_task` names a job-task
//! the allocator does not know (yet) is *waiting*: neither counted nor moved until that job-task
//! is upserted.
//!
//! * `cap(j) = min(max_agents, licenses)`, `target(j) = min(min_agents, cap(j))`;
//! * an agent *qualifies* for `j` iff it has every required skill of `j`;
//!   its *proficiency* for `j` is the sum of its levels in those skills;
//! * jobs are served in *priority order*: higher `priority` first, then `job_task` ascending
//!   (with `"job_id/action_name"` names that is job id, then action name).
//!
//! # `plan()`
//!
//! Moves are applied to the model as they are planned (the caller carries them out and
//! upserts the agents' real state afterwards, which corrects the model if a move failed).
//! Only idle agents are attached or moved; agents already on a job stay unless one of 1-3
//! below applies.
//!
//! 0. `detach/job_removed`: queued by `remove_job` for every agent on the job (idle or busy),
//!    in agent id order; those agents became free at once.
//! 1. `detach/skills_lost`: idle agents on a job they no longer qualify for, in
//!    `(job_task, agent_id)` order.
//! 2. `detach/over_max`: for each job above its cap (priority order), its idle agents, least
//!    proficient first (ties by agent id), until it is at its cap.
//! 3. `fill_min`: for each job below its target (priority order), while below: attach the free
//!    idle qualifying agent with the highest proficiency (ties by agent id); when there is none,
//!    *donate*: the least proficient (for the receiving job; ties by agent id) idle qualifying
//!    agent on a job of strictly *lower* `priority` whose count is above its own `min_agents` is
//!    detached from it and attached to the receiver (both moves say `donate`). Donors never drop
//!    below their minimum; jobs of equal priority never take from each other.
//! 4. `priority`: for each job below its cap (priority order), attach free idle qualifying agents
//!    (highest proficiency first, ties by agent id) until it is at its cap.
//!
//! Steps 3 and 4 repeat until neither moves anyone (filling a job by priority can lift it
//! above its minimum and so make its idle agents donatable). So a second `plan()` with no change
//! in between returns nothing.
//!
//! # Indexes and complexity (n agents, J jobs, S live required-skill sets, k skills an agent has,
//! q = sets an agent qualifies for, m = moves planned)
//!
//! * per required-skill set: the free idle qualifying agents ordered by `(-proficiency, id)`,
//!   and the donor *heads*: for each job above its minimum, its least proficient idle agent
//!   qualifying for the set;
//! * per job and skill set: its idle agents qualifying for the set, ordered by
//!   `(proficiency, id)`;
//! * ordered sets of the jobs below their target, below their cap and above their cap, and
//!   per-job counts.
//!
//! `upsert_agent` / `remove_agent`: O((q + k) log n) plus the look-up of the sets it qualifies
//! for. `upsert_job` with an existing skill set: O(a log n) for the a agents on the job; a job
//! that brings a new skill set also indexes the agents having its rarest skill (a set's index is
//! built once and shared by every job requiring it). `remove_job`: O(a log n).
//! `plan()`: O(1) when nothing changed since the last plan; otherwise
//! O(J_below_target + J_below_cap + m log n) (the cap pass is skipped when no agent is free),
//! plus, per donation looked for, the donor heads skipped because their job's priority is not
//! lower than the receiver's (at most one per job above its minimum).

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::ordid::MapId;
use crate::sorted::SortedSet;
use crate::state::Error;

/// Agent ids and job-task names.
pub type Id = Arc<str>;

type SkillId = u32;
type SetId = u32;
/// `sets_by_first` key of the empty skill set.
const NO_SKILL: SkillId = SkillId::MAX;

/// Attach or detach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Attach,
    Detach,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Attach => "attach",
            Action::Detach => "detach",
        }
    }
}

/// Why a move is in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    FillMin,
    Priority,
    Donate,
    JobRemoved,
    OverMax,
    SkillsLost,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::FillMin => "fill_min",
            Reason::Priority => "priority",
            Reason::Donate => "donate",
            Reason::JobRemoved => "job_removed",
            Reason::OverMax => "over_max",
            Reason::SkillsLost => "skills_lost",
        }
    }
}

/// One entry of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub action: Action,
    pub agent_id: Id,
    pub job_task: Id,
    pub reason: Reason,
}

/// A running job-task as the allocator needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec<'a> {
    pub job_task: &'a str,
    pub required_skills: Vec<&'a str>,
    pub min_agents: u32,
    pub max_agents: u32,
    pub priority: i64,
    pub licenses: u32,
}

impl JobSpec<'_> {
    /// Checks counts given as signed integers (as Python gives them).
    pub fn counts(min: i64, max: i64, licenses: i64) -> Result<(u32, u32, u32), Error> {
        let conv = |name: &str, v: i64| {
            u32::try_from(v).map_err(|_| Error::InvalidJob(format!("{name} must be >= 0, got {v}")))
        };
        Ok((
            conv("min_agents", min)?,
            conv("max_agents", max)?,
            conv("licenses", licenses)?,
        ))
    }
}

#[derive(Debug)]
enum Place {
    Free,
    On(Id),
    Waiting(Id),
}

#[derive(Debug)]
struct Agent {
    id: Id,
    /// Sorted by skill id, no duplicates.
    skills: Vec<(SkillId, i32)>,
    idle: bool,
    place: Place,
    /// The live skill sets it qualifies for, with its proficiency for each.
    quals: Vec<(SetId, i64)>,
}

impl Agent {
    fn indexed(&self) -> bool {
        self.idle && !matches!(self.place, Place::Waiting(_))
    }
}

type AgentKey = (i64, MapId);

#[derive(Debug, Default)]
struct SkillSet {
    skills: Vec<SkillId>,
    refs: usize,
    /// Free idle qualifying agents by `(-proficiency, id)`.
    free: BTreeSet<AgentKey>,
    /// `((proficiency, id), job)`: the least proficient idle qualifying agent of each donor job.
    heads: BTreeSet<(AgentKey, Id)>,
}

#[derive(Debug)]
struct Job {
    id: Id,
    set: SetId,
    min: u32,
    max: u32,
    licenses: u32,
    priority: i64,
    count: usize,
    members: FxHashSet<Id>,
    /// Per skill set: idle agents on this job qualifying for it, by `(proficiency, id)`.
    idle: FxHashMap<SetId, SortedSet<AgentKey>>,
    /// `count > min`: its idle agents may be donated.
    donor: bool,
    /// Where it is filed: (below target, below cap, over cap).
    filed: (bool, bool, bool),
}

type JobKey = (i64, MapId);

impl Job {
    fn key(&self) -> JobKey {
        (-self.priority, MapId::new(&self.id))
    }
    fn cap(&self) -> usize {
        self.max.min(self.licenses) as usize
    }
    fn target(&self) -> usize {
        (self.min as usize).min(self.cap())
    }
}

/// Proficiency of `skills` for `required` (both sorted), or `None` if one is missing.
fn proficiency(skills: &[(SkillId, i32)], required: &[SkillId]) -> Option<i64> {
    let mut total = 0i64;
    let mut it = skills.iter();
    'req: for &r in required {
        for &(s, level) in it.by_ref() {
            if s == r {
                total += i64::from(level);
                continue 'req;
            }
            if s > r {
                return None;
            }
        }
        return None;
    }
    Some(total)
}

/// The incremental allocator. See the module documentation for the rules.
#[derive(Debug, Default)]
pub struct Allocator {
    skill_ids: FxHashMap<MapId, SkillId>,
    /// Per skill id: the agents having it.
    by_skill: Vec<FxHashSet<Id>>,
    agents: FxHashMap<MapId, Agent>,
    jobs: FxHashMap<Id, Job>,
    waiting: FxHashMap<Id, FxHashSet<Id>>,
    sets: FxHashMap<SetId, SkillSet>,
    set_ids: FxHashMap<Vec<SkillId>, SetId>,
    sets_by_first: FxHashMap<SkillId, Vec<SetId>>,
    next_set: SetId,
    below_target: BTreeSet<JobKey>,
    below_cap: BTreeSet<JobKey>,
    over_cap: BTreeSet<JobKey>,
    /// `(job_task, agent_id)` of idle agents on a job they do not qualify for.
    mismatched: BTreeSet<(Id, Id)>,
    free_idle: usize,
    pending: Vec<Move>,
    dirty: bool,
}

/// Adds `key` to a job's per-set index, keeping the donor heads right.
fn job_index_insert(
    job: &mut Job,
    sets: &mut FxHashMap<SetId, SkillSet>,
    set: SetId,
    key: AgentKey,
) {
    let idx = job.idle.entry(set).or_default();
    let old = idx.first().cloned();
    let becomes_first = old.as_ref().is_none_or(|o| key < *o);
    idx.insert(key.clone());
    if job.donor && becomes_first {
        let heads = &mut sets.get_mut(&set).expect("live set").heads;
        if let Some(o) = old {
            heads.remove(&(o, job.id.clone()));
        }
        heads.insert((key, job.id.clone()));
    }
}

fn job_index_remove(
    job: &mut Job,
    sets: &mut FxHashMap<SetId, SkillSet>,
    set: SetId,
    key: &AgentKey,
) {
    let Some(idx) = job.idle.get_mut(&set) else {
        return;
    };
    let was_first = idx.first() == Some(key);
    if !idx.remove(key) {
        return;
    }
    let new_first = idx.first().cloned();
    if idx.is_empty() {
        job.idle.remove(&set);
    }
    if job.donor && was_first {
        if let Some(s) = sets.get_mut(&set) {
            s.heads.remove(&(key.clone(), job.id.clone()));
            if let Some(n) = new_first {
                s.heads.insert((n, job.id.clone()));
            }
        }
    }
}

impl Allocator {
    pub fn new() -> Self {
        Self::default()
    }

    fn skill_id(&mut self, name: &str) -> SkillId {
        if let Some(&id) = self.skill_ids.get(name) {
            return id;
        }
        let id = SkillId::try_from(self.by_skill.len()).expect("fewer than 2^32 skills");
        self.skill_ids.insert(MapId::new(&Arc::from(name)), id);
        self.by_skill.push(FxHashSet::default());
        id
    }

    fn quals_of(&self, skills: &[(SkillId, i32)]) -> Vec<(SetId, i64)> {
        let mut quals = Vec::new();
        let firsts = std::iter::once(NO_SKILL).chain(skills.iter().map(|s| s.0));
        for first in firsts {
            for &set in self.sets_by_first.get(&first).into_iter().flatten() {
                if let Some(p) = proficiency(skills, &self.sets[&set].skills) {
                    quals.push((set, p));
                }
            }
        }
        quals
    }

    // ----- indexes -------------------------------------------------------------------------

    fn index(&mut self, id: &str) {
        let a = &self.agents[id];
        if !a.indexed() {
            return;
        }
        let key = MapId::new(id);
        match &a.place {
            Place::Free => {
                for &(set, p) in &a.quals {
                    self.sets
                        .get_mut(&set)
                        .expect("live set")
                        .free
                        .insert((-p, key.clone()));
                }
                self.free_idle += 1;
            }
            Place::On(j) => {
                let job = self.jobs.get_mut(j).expect("known job");
                let mut qualified = false;
                for &(set, p) in &a.quals {
                    qualified |= set == job.set;
                    job_index_insert(job, &mut self.sets, set, (p, key.clone()));
                }
                if !qualified {
                    self.mismatched.insert((j.clone(), a.id.clone()));
                }
            }
            Place::Waiting(_) => {}
        }
    }

    fn unindex(&mut self, id: &str) {
        let a = &self.agents[id];
        if !a.indexed() {
            return;
        }
        let key = MapId::new(id);
        match &a.place {
            Place::Free => {
                for &(set, p) in &a.quals {
                    self.sets
                        .get_mut(&set)
                        .expect("live set")
                        .free
                        .remove(&(-p, key.clone()));
                }
                self.free_idle -= 1;
            }
            Place::On(j) => {
                let job = self.jobs.get_mut(j).expect("known job");
                for &(set, p) in &a.quals {
                    job_index_remove(job, &mut self.sets, set, &(p, key.clone()));
                }
                // Most of the time nothing is mismatched: skip the clones of two shared ids.
                if !self.mismatched.is_empty() {
                    self.mismatched.remove(&(j.clone(), a.id.clone()));
                }
            }
            Place::Waiting(_) => {}
        }
    }

    /// Re-files a job in the below-target / below-cap / over-cap sets and the donor heads.
    fn refresh(&mut self, j: &str) {
        let job = self.jobs.get_mut(j).expect("known job");
        let (count, cap, target) = (job.count, job.cap(), job.target());
        let filed = (count < target, count < cap, count > cap);
        if filed != job.filed {
            let key = job.key();
            for (set, was, is) in [
                (&mut self.below_target, job.filed.0, filed.0),
                (&mut self.below_cap, job.filed.1, filed.1),
                (&mut self.over_cap, job.filed.2, filed.2),
            ] {
                match (was, is) {
                    (false, true) => {
                        set.insert(key.clone());
                    }
                    (true, false) => {
                        set.remove(&key);
                    }
                    _ => {}
                }
            }
            job.filed = filed;
        }
        let donor = count > job.min as usize;
        if donor != job.donor {
            job.donor = donor;
            for (set, idx) in &job.idle {
                let head = (
                    idx.first().expect("non-empty index").clone(),
                    job.id.clone(),
                );
                let heads = &mut self.sets.get_mut(set).expect("live set").heads;
                if donor {
                    heads.insert(head);
                } else {
                    heads.remove(&head);
                }
            }
        }
    }

    /// Takes a job out of the below-target / below-cap / over-cap sets (before its key changes).
    fn unfile(&mut self, j: &str) {
        let job = self.jobs.get_mut(j).expect("known job");
        let key = job.key();
        self.below_target.remove(&key);
        self.below_cap.remove(&key);
        self.over_cap.remove(&key);
        job.filed = (false, false, false);
    }

    /// Takes an (unindexed) agent out of its place; returns the job whose count changed.
    fn leave(&mut self, id: &str) -> Option<Id> {
        let a = self.agents.get_mut(id).expect("known agent");
        match std::mem::replace(&mut a.place, Place::Free) {
            Place::Free => None,
            Place::On(j) => {
                let job = self.jobs.get_mut(&j).expect("known job");
                job.count -= 1;
                job.members.remove(id);
                Some(j)
            }
            Place::Waiting(j) => {
                if let Some(w) = self.waiting.get_mut(&j) {
                    w.remove(id);
                    if w.is_empty() {
                        self.waiting.remove(&j);
                    }
                }
                None
            }
        }
    }

    /// Puts an (unindexed, placeless) agent on `job_task`; returns the job whose count changed.
    fn enter(&mut self, id: &str, job_task: Option<&str>) -> Option<Id> {
        let a = self.agents.get_mut(id).expect("known agent");
        let Some(j) = job_task else {
            a.place = Place::Free;
            return None;
        };
        if let Some(job) = self.jobs.get_mut(j) {
            job.count += 1;
            job.members.insert(a.id.clone());
            a.place = Place::On(job.id.clone());
            Some(job.id.clone())
        } else {
            let name = match self.waiting.get_key_value(j) {
                Some((k, _)) => k.clone(),
                None => Arc::from(j),
            };
            self.waiting
                .entry(name.clone())
                .or_default()
                .insert(a.id.clone());
            a.place = Place::Waiting(name);
            None
        }
    }

    // ----- skill sets ----------------------------------------------------------------------

    fn acquire_set(&mut self, names: &[&str]) -> SetId {
        let mut skills: Vec<SkillId> = names.iter().map(|n| self.skill_id(n)).collect();
        skills.sort_unstable();
        skills.dedup();
        if let Some(&set) = self.set_ids.get(&skills) {
            self.sets.get_mut(&set).expect("live set").refs += 1;
            return set;
        }
        let set = self.next_set;
        self.next_set += 1;
        let first = skills.first().copied().unwrap_or(NO_SKILL);
        self.sets_by_first.entry(first).or_default().push(set);
        self.set_ids.insert(skills.clone(), set);
        let candidates = self.candidates(&skills);
        self.sets.insert(
            set,
            SkillSet {
                skills,
                refs: 1,
                ..SkillSet::default()
            },
        );
        for id in candidates {
            let a = &self.agents[&*id];
            let Some(p) = proficiency(&a.skills, &self.sets[&set].skills) else {
                continue;
            };
            let indexed = a.indexed();
            self.agents
                .get_mut(&*id)
                .expect("known")
                .quals
                .push((set, p));
            if !indexed {
                continue;
            }
            match &self.agents[&*id].place {
                Place::Free => {
                    self.sets
                        .get_mut(&set)
                        .expect("live")
                        .free
                        .insert((-p, MapId::new(&id)));
                }
                Place::On(j) => {
                    let job = self.jobs.get_mut(j).expect("known job");
                    job_index_insert(job, &mut self.sets, set, (p, MapId::new(&id)));
                }
                Place::Waiting(_) => {}
            }
        }
        set
    }

    fn release_set(&mut self, set: SetId) {
        let s = self.sets.get_mut(&set).expect("live set");
        s.refs -= 1;
        if s.refs > 0 {
            return;
        }
        let skills = s.skills.clone();
        for id in self.candidates(&skills) {
            let a = self.agents.get_mut(&*id).expect("known");
            let Some(pos) = a.quals.iter().position(|q| q.0 == set) else {
                continue;
            };
            let (_, p) = a.quals.swap_remove(pos);
            if let (true, Place::On(j)) = (a.indexed(), &a.place) {
                let job = self.jobs.get_mut(j).expect("known job");
                job_index_remove(job, &mut self.sets, set, &(p, MapId::new(&id)));
            }
        }
        self.sets.remove(&set);
        self.set_ids.remove(&skills);
        let first = skills.first().copied().unwrap_or(NO_SKILL);
        let list = self.sets_by_first.get_mut(&first).expect("filed");
        list.retain(|s| *s != set);
        if list.is_empty() {
            self.sets_by_first.remove(&first);
        }
    }

    /// Agents that may qualify for `skills`: those having its rarest skill (all for none).
    fn candidates(&self, skills: &[SkillId]) -> Vec<Id> {
        match skills
            .iter()
            .map(|s| &self.by_skill[*s as usize])
            .min_by_key(|s| s.len())
        {
            Some(holders) => holders.iter().cloned().collect(),
            None => self.agents.values().map(|a| a.id.clone()).collect(),
        }
    }

    // ----- public operations ---------------------------------------------------------------

    /// Adds or replaces an agent. `skills` are `(name, level)`; a repeated name keeps the last.
    pub fn upsert_agent(
        &mut self,
        agent_id: &str,
        skills: &[(&str, i32)],
        idle: bool,
        job_task: Option<&str>,
    ) {
        let mut interned: Vec<(SkillId, i32)> = Vec::with_capacity(skills.len());
        for &(name, level) in skills {
            let s = self.skill_id(name);
            match interned.iter_mut().find(|e| e.0 == s) {
                Some(e) => e.1 = level,
                None => interned.push((s, level)),
            }
        }
        interned.sort_unstable();
        let mut changed_jobs: [Option<Id>; 2] = [None, None];
        if let Some(a) = self.agents.get(agent_id) {
            let same_place = match (&a.place, job_task) {
                (Place::Free, None) => true,
                (Place::On(j) | Place::Waiting(j), Some(k)) => **j == *k,
                _ => false,
            };
            if same_place && a.idle == idle && a.skills == interned {
                return; // nothing changed
            }
            self.unindex(agent_id);
            if !same_place {
                changed_jobs[0] = self.leave(agent_id);
            }
            if self.agents[agent_id].skills != interned {
                let quals = self.quals_of(&interned);
                let a = self.agents.get_mut(agent_id).expect("known");
                for (s, _) in &a.skills {
                    self.by_skill[*s as usize].remove(agent_id);
                }
                for (s, _) in &interned {
                    self.by_skill[*s as usize].insert(a.id.clone());
                }
                a.skills = interned;
                a.quals = quals;
            }
            let a = self.agents.get_mut(agent_id).expect("known");
            a.idle = idle;
            if !same_place {
                changed_jobs[1] = self.enter(agent_id, job_task);
            }
        } else {
            let id: Id = Arc::from(agent_id);
            for (s, _) in &interned {
                self.by_skill[*s as usize].insert(id.clone());
            }
            let quals = self.quals_of(&interned);
            let agent = Agent {
                id: id.clone(),
                skills: interned,
                idle,
                place: Place::Free,
                quals,
            };
            self.agents.insert(MapId::new(&id), agent);
            changed_jobs[1] = self.enter(agent_id, job_task);
        }
        self.dirty = true;
        self.index(agent_id);
        for j in changed_jobs.into_iter().flatten() {
            self.refresh(&j);
        }
    }

    /// Forgets an agent (logged out, or no longer Ready).
    pub fn remove_agent(&mut self, agent_id: &str) {
        if !self.agents.contains_key(agent_id) {
            return;
        }
        self.dirty = true;
        self.unindex(agent_id);
        if let Some(j) = self.leave(agent_id) {
            self.refresh(&j);
        }
        let a = self.agents.remove(agent_id).expect("known");
        for (s, _) in &a.skills {
            self.by_skill[*s as usize].remove(agent_id);
        }
    }

    /// Adds or redefines a running job-task.
    pub fn upsert_job(&mut self, spec: &JobSpec<'_>) {
        self.dirty = true;
        let set = self.acquire_set(&spec.required_skills);
        let j = spec.job_task;
        if self.jobs.contains_key(j) {
            let members: Vec<Id> = self.jobs[j].members.iter().cloned().collect();
            for m in &members {
                self.unindex(m);
            }
            self.unfile(j);
            let job = self.jobs.get_mut(j).expect("known job");
            let old_set = std::mem::replace(&mut job.set, set);
            job.min = spec.min_agents;
            job.max = spec.max_agents;
            job.licenses = spec.licenses;
            job.priority = spec.priority;
            for m in &members {
                self.index(m);
            }
            self.refresh(j);
            self.release_set(old_set);
        } else {
            let id: Id = match self.waiting.get_key_value(j) {
                Some((k, _)) => k.clone(),
                None => Arc::from(j),
            };
            let job = Job {
                id: id.clone(),
                set,
                min: spec.min_agents,
                max: spec.max_agents,
                licenses: spec.licenses,
                priority: spec.priority,
                count: 0,
                members: FxHashSet::default(),
                idle: FxHashMap::default(),
                donor: false,
                filed: (false, false, false),
            };
            self.jobs.insert(id.clone(), job);
            let waiting: Vec<Id> = self.waiting.remove(j).into_iter().flatten().collect();
            for a in &waiting {
                let agent = self.agents.get_mut(&**a).expect("known");
                agent.place = Place::Free;
                self.enter(a, Some(j));
                self.index(a);
            }
            self.refresh(j);
        }
    }

    /// Ends a job-task: the next plan detaches all its agents (`job_removed`); they are free now.
    pub fn remove_job(&mut self, job_task: &str) {
        if !self.jobs.contains_key(job_task) {
            return;
        }
        self.dirty = true;
        let mut members: Vec<Id> = self.jobs[job_task].members.iter().cloned().collect();
        members.sort_unstable();
        for m in &members {
            self.unindex(m);
        }
        self.unfile(job_task);
        let job = self.jobs.remove(job_task).expect("known job");
        for m in members {
            self.agents.get_mut(&*m).expect("known").place = Place::Free;
            self.index(&m);
            self.pending.push(Move {
                action: Action::Detach,
                agent_id: m,
                job_task: job.id.clone(),
                reason: Reason::JobRemoved,
            });
        }
        self.release_set(job.set);
    }

    fn attach(&mut self, agent: &Id, job: &Id, reason: Reason, out: &mut Vec<Move>) {
        self.unindex(agent);
        self.leave(agent);
        self.enter(agent, Some(job));
        self.index(agent);
        self.refresh(job);
        out.push(Move {
            action: Action::Attach,
            agent_id: agent.clone(),
            job_task: job.clone(),
            reason,
        });
    }

    fn detach(&mut self, agent: &Id, reason: Reason, out: &mut Vec<Move>) {
        self.unindex(agent);
        let job = self.leave(agent).expect("agent on a job");
        self.index(agent);
        self.refresh(&job);
        out.push(Move {
            action: Action::Detach,
            agent_id: agent.clone(),
            job_task: job,
            reason,
        });
    }

    /// Phase 3: every job below its target, up to it, by donation if need be.
    fn fill_min(&mut self, out: &mut Vec<Move>) {
        let mut cursor: Option<JobKey> = None;
        while let Some(key) = next_after(&self.below_target, &cursor) {
            let j = Id::from(key.1.as_str());
            cursor = Some(key);
            loop {
                let job = &self.jobs[&j];
                if job.count >= job.target() {
                    break;
                }
                let (set, priority) = (&self.sets[&job.set], job.priority);
                if let Some(agent) = set.free.first().map(|(_, a)| Id::from(a.as_str())) {
                    self.attach(&agent, &j, Reason::FillMin, out);
                } else if let Some(agent) = set
                    .heads
                    .iter()
                    .find(|h| self.jobs[&h.1].priority < priority)
                    .map(|((_, a), _)| Id::from(a.as_str()))
                {
                    self.detach(&agent, Reason::Donate, out);
                    self.attach(&agent, &j, Reason::Donate, out);
                } else {
                    break;
                }
            }
        }
    }

    /// Phase 4: every job below its cap, by priority, from the free agents.
    fn fill_priority(&mut self, out: &mut Vec<Move>) {
        let mut cursor: Option<JobKey> = None;
        while self.free_idle > 0 {
            let Some(key) = next_after(&self.below_cap, &cursor) else {
                break;
            };
            let j = Id::from(key.1.as_str());
            cursor = Some(key);
            loop {
                let job = &self.jobs[&j];
                if job.count >= job.cap() {
                    break;
                }
                let Some(agent) = self.sets[&job.set]
                    .free
                    .first()
                    .map(|(_, a)| Id::from(a.as_str()))
                else {
                    break;
                };
                self.attach(&agent, &j, Reason::Priority, out);
            }
        }
    }

    /// The moves needed now; see the module documentation for the rules.
    pub fn plan(&mut self) -> Vec<Move> {
        let mut out = std::mem::take(&mut self.pending);
        if !self.dirty {
            return out;
        }
        self.dirty = false;
        // 1. skills lost.
        while let Some((_, agent)) = self.mismatched.first().cloned() {
            self.detach(&agent, Reason::SkillsLost, &mut out);
        }
        // 2. over the cap.
        let mut cursor: Option<JobKey> = None;
        while let Some(key) = next_after(&self.over_cap, &cursor) {
            let j = Id::from(key.1.as_str());
            cursor = Some(key);
            loop {
                let job = &self.jobs[&j];
                if job.count <= job.cap() {
                    break;
                }
                let first = job.idle.get(&job.set).and_then(|i| i.first());
                let Some(agent) = first.map(|(_, a)| Id::from(a.as_str())) else {
                    break;
                };
                self.detach(&agent, Reason::OverMax, &mut out);
            }
        }
        // 3 and 4, until neither moves anyone: filling by priority can lift a job above its
        // minimum, which makes its idle agents donatable to a job still below its minimum.
        loop {
            let before = out.len();
            self.fill_min(&mut out);
            self.fill_priority(&mut out);
            if out.len() == before {
                break;
            }
        }
        out
    }

    /// How many agents are on `job_task` (0 when unknown).
    pub fn job_agents(&self, job_task: &str) -> usize {
        self.jobs.get(job_task).map_or(0, |j| j.count)
    }

    /// The job-task the model has the agent on (planned moves included), if any.
    pub fn agent_job(&self, agent_id: &str) -> Option<Id> {
        match &self.agents.get(agent_id)?.place {
            Place::Free => None,
            Place::On(j) | Place::Waiting(j) => Some(j.clone()),
        }
    }

    /// How many agents are known.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// How many job-tasks are known.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }
}

fn next_after(set: &BTreeSet<JobKey>, cursor: &Option<JobKey>) -> Option<JobKey> {
    match cursor {
        None => set.first().cloned(),
        Some(c) => set
            .range((Bound::Excluded(c), Bound::Unbounded))
            .next()
            .cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job<'a>(
        j: &'a str,
        skills: &[&'a str],
        min: u32,
        max: u32,
        prio: i64,
        lic: u32,
    ) -> JobSpec<'a> {
        JobSpec {
            job_task: j,
            required_skills: skills.to_vec(),
            min_agents: min,
            max_agents: max,
            priority: prio,
            licenses: lic,
        }
    }

    fn moves(plan: &[Move]) -> Vec<(&str, &str, &str, &str)> {
        plan.iter()
            .map(|m| {
                (
                    m.action.as_str(),
                    &*m.agent_id,
                    &*m.job_task,
                    m.reason.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn proficiency_needs_every_required_skill() {
        assert_eq!(proficiency(&[(1, 3), (4, 5)], &[1, 4]), Some(8));
        assert_eq!(proficiency(&[(1, 3), (4, 5)], &[]), Some(0));
        assert_eq!(proficiency(&[(1, 3), (4, 5)], &[2]), None);
        assert_eq!(proficiency(&[(1, 3)], &[1, 4]), None);
    }

    #[test]
    fn minimums_first_then_priority_never_past_max_or_licences() {
        let mut a = Allocator::new();
        a.upsert_job(&job("low", &["s"], 1, 10, 1, 10));
        a.upsert_job(&job("high", &["s"], 1, 5, 9, 2));
        for (id, lvl) in [("a1", 1), ("a2", 2), ("a3", 3), ("a4", 4), ("a5", 5)] {
            a.upsert_agent(id, &[("s", lvl)], true, None);
        }
        let plan = a.plan();
        assert_eq!(
            moves(&plan),
            vec![
                ("attach", "a5", "high", "fill_min"),
                ("attach", "a4", "low", "fill_min"),
                ("attach", "a3", "high", "priority"),
                ("attach", "a2", "low", "priority"),
                ("attach", "a1", "low", "priority"),
            ]
        );
        assert_eq!((a.job_agents("high"), a.job_agents("low")), (2, 3));
        assert!(a.plan().is_empty());
    }

    #[test]
    fn agents_without_the_skills_are_not_attached() {
        let mut a = Allocator::new();
        a.upsert_job(&job("j", &["s", "t"], 1, 10, 1, 10));
        a.upsert_agent("x", &[("s", 9)], true, None);
        a.upsert_agent("y", &[("t", 9), ("s", 1)], false, None);
        assert!(a.plan().is_empty(), "x lacks t, y is busy");
        a.upsert_agent("y", &[("t", 9), ("s", 1)], true, None);
        assert_eq!(moves(&a.plan()), vec![("attach", "y", "j", "fill_min")]);
    }

    #[test]
    fn donation_takes_the_least_proficient_idle_agent_of_a_job_above_its_minimum() {
        let mut a = Allocator::new();
        a.upsert_job(&job("d1", &["s"], 1, 10, 1, 10));
        a.upsert_job(&job("d2", &["s"], 2, 10, 1, 10));
        for (id, lvl, j, idle) in [
            ("p", 5, "d1", true),
            ("q", 2, "d1", true),
            ("r", 1, "d1", false), // busy: never donated
            ("u", 1, "d2", true),  // d2 at its minimum: not a donor
            ("v", 1, "d2", true),
        ] {
            a.upsert_agent(id, &[("s", lvl)], idle, Some(j));
        }
        assert!(a.plan().is_empty());
        a.upsert_job(&job("hot", &["s"], 2, 5, 9, 5));
        assert_eq!(
            moves(&a.plan()),
            vec![
                ("detach", "q", "d1", "donate"),
                ("attach", "q", "hot", "donate"),
                ("detach", "p", "d1", "donate"),
                ("attach", "p", "hot", "donate"),
            ]
        );
        assert_eq!(
            (a.job_agents("d1"), a.job_agents("d2"), a.job_agents("hot")),
            (1, 2, 2)
        );
    }

    #[test]
    fn donors_are_only_jobs_of_lower_priority() {
        let mut a = Allocator::new();
        a.upsert_job(&job("same", &["s"], 0, 10, 5, 10));
        a.upsert_job(&job("higher", &["s"], 0, 10, 7, 10));
        a.upsert_agent("x", &[("s", 1)], true, Some("same"));
        a.upsert_agent("y", &[("s", 1)], true, Some("higher"));
        assert!(a.plan().is_empty());
        // below its minimum, but every job above its own has the same or a higher priority
        a.upsert_job(&job("short", &["s"], 1, 10, 5, 10));
        assert!(a.plan().is_empty());
        assert_eq!(a.job_agents("short"), 0);
        a.upsert_job(&job("low", &["s"], 0, 10, 1, 10));
        a.upsert_agent("z", &[("s", 9)], true, Some("low"));
        assert_eq!(
            moves(&a.plan()),
            vec![
                ("detach", "z", "low", "donate"),
                ("attach", "z", "short", "donate")
            ]
        );
    }

    #[test]
    fn removed_jobs_detach_their_agents_who_may_go_elsewhere() {
        let mut a = Allocator::new();
        a.upsert_job(&job("a", &[], 0, 10, 1, 10));
        a.upsert_job(&job("b", &[], 0, 10, 0, 10));
        a.upsert_agent("x", &[], true, Some("a"));
        a.upsert_agent("y", &[], false, Some("a"));
        assert!(a.plan().is_empty());
        a.remove_job("a");
        assert_eq!(
            moves(&a.plan()),
            vec![
                ("detach", "x", "a", "job_removed"),
                ("detach", "y", "a", "job_removed"),
                ("attach", "x", "b", "priority"),
            ]
        );
        assert_eq!(a.agent_job("y"), None);
    }

    #[test]
    fn lowering_the_cap_detaches_idle_agents_least_proficient_first() {
        let mut a = Allocator::new();
        a.upsert_job(&job("j", &["s"], 0, 10, 1, 10));
        for (id, lvl) in [("a", 3), ("b", 1), ("c", 2)] {
            a.upsert_agent(id, &[("s", lvl)], id != "b", Some("j"));
        }
        a.upsert_job(&job("j", &["s"], 0, 10, 1, 1));
        assert_eq!(
            moves(&a.plan()),
            vec![
                ("detach", "c", "j", "over_max"),
                ("detach", "a", "j", "over_max")
            ]
        );
        assert_eq!(a.job_agents("j"), 1);
    }

    #[test]
    fn agents_that_lose_a_skill_are_detached_when_idle() {
        let mut a = Allocator::new();
        a.upsert_job(&job("j", &["s"], 0, 10, 1, 10));
        a.upsert_agent("a", &[("t", 1)], false, Some("j"));
        assert!(a.plan().is_empty());
        a.upsert_agent("a", &[("t", 1)], true, Some("j"));
        assert_eq!(moves(&a.plan()), vec![("detach", "a", "j", "skills_lost")]);
    }

    #[test]
    fn agents_on_unknown_jobs_wait_for_the_job() {
        let mut a = Allocator::new();
        a.upsert_agent("a", &[], true, Some("later"));
        assert!(a.plan().is_empty());
        a.upsert_job(&job("later", &[], 1, 1, 1, 1));
        assert_eq!(a.job_agents("later"), 1);
        assert!(a.plan().is_empty());
        a.remove_agent("a");
        assert_eq!(a.job_agents("later"), 0);
    }

    #[test]
    fn counts_are_checked() {
        assert!(JobSpec::counts(-1, 1, 1).is_err());
        assert_eq!(JobSpec::counts(1, 2, 3), Ok((1, 2, 3)));
    }
}
