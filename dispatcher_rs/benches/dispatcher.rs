//! Criterion benches of the pure core (no Python): 100,000 agents, 1,000 job-tasks, 50 skills.
//!
//! Run: `cargo bench -p dispatcher_rs` (the end-to-end figures, through Python, come from
//! `bench/dispatcher.py`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dispatcher_rs::allocate::{Allocator, JobSpec};
use dispatcher_rs::pool::{AgentRow, AgentStatus, JobConfig, Pool, Skills, Strategy};
use dispatcher_rs::state::{AgentState, CallState, JobState};

const AGENTS: usize = 100_000;
const JOBS: usize = 1_000;
const SKILLS: usize = 50;

/// A small deterministic generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn status(call_state: CallState) -> AgentStatus {
    AgentStatus {
        agent_state: AgentState::Ready,
        call_state,
        job_state: JobState::JobAttached,
        nailed: true,
    }
}

struct World {
    agent_ids: Vec<String>,
    job_ids: Vec<String>,
    skill_names: Vec<String>,
    agent_job: Vec<usize>,
    agent_skills: Vec<Vec<(usize, i32)>>,
}

fn world() -> World {
    let mut rng = Lcg(42);
    let skill_names: Vec<String> = (0..SKILLS).map(|i| format!("skill{i:02}")).collect();
    let agent_skills = (0..AGENTS)
        .map(|_| {
            (0..3)
                .map(|_| (rng.below(SKILLS), 1 + rng.below(10) as i32))
                .collect()
        })
        .collect();
    World {
        agent_ids: (0..AGENTS).map(|i| format!("agent{i:06}")).collect(),
        job_ids: (0..JOBS).map(|i| format!("job{i:04}/main")).collect(),
        skill_names,
        agent_job: (0..AGENTS).map(|i| i % JOBS).collect(),
        agent_skills,
    }
}

impl World {
    fn skills(&self, a: usize) -> Skills {
        self.agent_skills[a]
            .iter()
            .map(|&(s, l)| (Box::from(self.skill_names[s].as_str()), l))
            .collect()
    }

    fn row(&self, a: usize, idle_since_ms: i64, with_skills: bool) -> AgentRow<'_> {
        AgentRow {
            agent_id: &self.agent_ids[a],
            job_task: Some(&self.job_ids[self.agent_job[a]]),
            status: status(CallState::Idle),
            idle_since_ms,
            skills: with_skills.then(|| self.skills(a)),
        }
    }

    fn pool(&self, agents: usize) -> Pool {
        let mut pool = Pool::new();
        for (j, name) in self.job_ids.iter().enumerate() {
            let strategy = if j % 2 == 0 {
                Strategy::LongestIdle
            } else {
                Strategy::SkillLevel
            };
            let skill = self.skill_names[j % SKILLS].as_str();
            pool.set_job(
                name,
                JobConfig::new(name, strategy, Some(skill), true).unwrap(),
            );
        }
        pool.rebuild((0..agents).map(|a| self.row(a, a as i64, true)));
        pool
    }
}

fn pool_benches(c: &mut Criterion) {
    let w = world();
    let mut pool = w.pool(AGENTS);
    let mut rng = Lcg(7);
    let mut now = AGENTS as i64;
    c.bench_function("pool/match_call+update (100k agents, 1k jobs)", |b| {
        b.iter(|| {
            let j = rng.below(JOBS);
            if let Some(agent) = pool.match_call(&w.job_ids[j]) {
                now += 1;
                let a: usize = agent[5..].parse().unwrap();
                pool.update(w.row(a, now, false));
            }
        })
    });
    c.bench_function("pool/update state change (100k agents)", |b| {
        b.iter(|| {
            let a = rng.below(AGENTS);
            now += 1;
            let talking = rng.below(2) == 0;
            let row = AgentRow {
                status: status(if talking {
                    CallState::Talking
                } else {
                    CallState::Idle
                }),
                ..w.row(a, now, false)
            };
            black_box(pool.update(row));
        })
    });
    c.bench_function("pool/rebuild 20k agents", |b| {
        b.iter_batched(
            Pool::new,
            |mut p| {
                p.rebuild((0..20_000).map(|a| w.row(a, a as i64, true)));
                p
            },
            BatchSize::LargeInput,
        )
    });
}

fn allocator_benches(c: &mut Criterion) {
    let w = world();
    let mut alloc = Allocator::new();
    for (j, name) in w.job_ids.iter().enumerate() {
        let skill = w.skill_names[j % SKILLS].as_str();
        alloc.upsert_job(&JobSpec {
            job_task: name,
            required_skills: vec![skill],
            min_agents: 5,
            max_agents: 150,
            priority: (j % 10) as i64,
            licenses: 120,
        });
    }
    let skills_of = |a: usize| -> Vec<(&str, i32)> {
        w.agent_skills[a]
            .iter()
            .map(|&(s, l)| (w.skill_names[s].as_str(), l))
            .collect()
    };
    for a in 0..AGENTS {
        alloc.upsert_agent(&w.agent_ids[a], &skills_of(a), true, None);
    }
    let initial = alloc.plan().len();
    eprintln!("allocator: initial plan of {initial} moves");
    let mut rng = Lcg(9);
    c.bench_function("allocator/upsert_agent+plan (100k agents, 1k jobs)", |b| {
        b.iter(|| {
            let a = rng.below(AGENTS);
            let job = alloc.agent_job(&w.agent_ids[a]);
            let idle = rng.below(2) == 0;
            alloc.upsert_agent(&w.agent_ids[a], &skills_of(a), idle, job.as_deref());
            black_box(alloc.plan());
        })
    });
}

criterion_group!(benches, pool_benches, allocator_benches);
criterion_main!(benches);
