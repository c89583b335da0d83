//! The pyo3 module `dispatcher_rs._native`: a thin layer over the pure core.
//!
//! Only argument conversion lives here; every rule is in `pool`, `allocate` and `state`.
//! Core errors become `ValueError`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::allocate::{self, JobSpec};
use crate::pool::{self, AgentRow, AgentStatus, JobConfig, Skills, Strategy};
use crate::state::{AgentState, CallState, Error, JobState};

fn value_error(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A state given as its wire name or as its code (index in the `*_STATES` tuples).
fn state<T>(
    ob: &Bound<'_, PyAny>,
    parse: fn(&str) -> Result<T, Error>,
    from_code: fn(i64) -> Result<T, Error>,
) -> PyResult<T> {
    // Checked with a type-flag test first: a failed `cast` costs more than this.
    if ob.is_instance_of::<PyString>() {
        parse(ob.cast::<PyString>()?.to_str()?).map_err(value_error)
    } else {
        from_code(ob.extract::<i64>()?).map_err(value_error)
    }
}

fn status(
    agent_state: &Bound<'_, PyAny>,
    call_state: &Bound<'_, PyAny>,
    job_state: &Bound<'_, PyAny>,
    nailed: bool,
) -> PyResult<AgentStatus> {
    Ok(AgentStatus {
        agent_state: state(agent_state, AgentState::parse, AgentState::from_code)?,
        call_state: state(call_state, CallState::parse, CallState::from_code)?,
        job_state: state(job_state, JobState::parse, JobState::from_code)?,
        nailed,
    })
}

fn pool_skills(skills: Option<&Bound<'_, PyDict>>) -> PyResult<Option<Skills>> {
    let Some(d) = skills else { return Ok(None) };
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        out.push((
            Box::from(k.cast::<PyString>()?.to_str()?),
            v.extract::<i32>()?,
        ));
    }
    Ok(Some(out))
}

fn opt_str<'a>(ob: &'a Bound<'_, PyAny>) -> PyResult<Option<&'a str>> {
    if ob.is_none() {
        Ok(None)
    } else {
        Ok(Some(ob.cast::<PyString>()?.to_str()?))
    }
}

/// One pool row (an 8-tuple) as the core takes it; its strings are borrowed from the tuple.
fn row_of<'a>(row: &'a Bound<'_, PyAny>) -> PyResult<AgentRow<'a>> {
    let t = row.cast::<PyTuple>()?;
    if t.len() != 8 {
        return Err(PyValueError::new_err(format!(
            "a pool row has 8 fields (agent_id, job_task, agent_state, call_state, job_state, \
             nailed, idle_since_ms, skills), got {}",
            t.len()
        )));
    }
    let item = |i: usize| t.get_borrowed_item(i);
    let (f1, skills) = (item(1)?, item(7)?);
    let agent_id: &'a str = item(0)?.extract()?;
    let job_task: Option<&'a str> = if f1.is_none() {
        None
    } else {
        Some(f1.extract()?)
    };
    let skills = if skills.is_none() {
        None
    } else {
        Some(skills.cast::<PyDict>()?)
    };
    Ok(AgentRow {
        agent_id,
        job_task,
        status: status(&*item(2)?, &*item(3)?, &*item(4)?, item(5)?.extract()?)?,
        idle_since_ms: item(6)?.extract()?,
        skills: pool_skills(skills.as_deref())?,
    })
}

/// Asks the CPU to fetch a batch's row tuples, then their agent id strings and
/// `idle_since_ms` ints, before they are read: the rows' objects lie anywhere in the Python
/// heap, and fetching them a batch at a time overlaps their cache misses instead of waiting
/// for each in turn. Only a hint: nothing is read that `row_of` does not read anyway.
fn prefetch_rows(held: &[Bound<'_, PyAny>]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let hint = |p: *const pyo3::ffi::PyObject| {
            // SAFETY: a prefetch is a hint; it never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) }
        };
        for row in held {
            hint(row.as_ptr());
        }
        for row in held {
            if let Ok(t) = row.cast::<PyTuple>() {
                if t.len() == 8 {
                    for i in [0, 6] {
                        if let Ok(item) = t.get_borrowed_item(i) {
                            hint(item.as_ptr());
                        }
                    }
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = held;
}

/// Converts a batch of rows and hands the good ones to `apply`; the first bad row is returned
/// as the error after the rows before it were applied (as row-by-row calls would leave it).
fn apply_batch(
    held: &[Bound<'_, PyAny>],
    apply: &mut impl FnMut(&mut dyn Iterator<Item = AgentRow<'_>>),
) -> PyResult<()> {
    prefetch_rows(held);
    let mut ok = Vec::with_capacity(held.len());
    let mut err = None;
    for row in held {
        match row_of(row) {
            Ok(r) => ok.push(r),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    apply(&mut ok.into_iter());
    err.map_or(Ok(()), Err)
}

/// Feeds the rows of `update_many` / `rebuild` to `apply` in batches of up to
/// [`pool::BATCH`], so that the core can prefetch a batch's records.
fn for_each_batch<'py>(
    rows: &Bound<'py, PyAny>,
    mut apply: impl FnMut(&mut dyn Iterator<Item = AgentRow<'_>>),
) -> PyResult<()> {
    let mut iter: Box<dyn Iterator<Item = PyResult<Bound<'py, PyAny>>>> =
        if let Ok(list) = rows.cast::<PyList>() {
            Box::new(list.iter().map(Ok))
        } else {
            Box::new(rows.try_iter()?)
        };
    let mut held: Vec<Bound<'py, PyAny>> = Vec::with_capacity(pool::BATCH);
    loop {
        held.clear();
        let mut pending = None;
        while held.len() < pool::BATCH {
            match iter.next() {
                None => break,
                Some(Ok(row)) => held.push(row),
                Some(Err(e)) => {
                    pending = Some(e);
                    break;
                }
            }
        }
        let last = held.len() < pool::BATCH;
        apply_batch(&held, &mut apply)?;
        if let Some(e) = pending {
            return Err(e);
        }
        if last {
            return Ok(());
        }
    }
}

/// The available agents per job-task, and the matching of calls to them.
#[pyclass(module = "dispatcher_rs._native")]
struct Pool {
    inner: pool::Pool,
}

#[pymethods]
impl Pool {
    #[new]
    fn new() -> Self {
        Pool {
            inner: pool::Pool::new(),
        }
    }

    #[pyo3(signature = (job_task, strategy = "longest_idle", match_skill = None, needs_nailing = true))]
    fn set_job(
        &mut self,
        job_task: &str,
        strategy: &str,
        match_skill: Option<&str>,
        needs_nailing: bool,
    ) -> PyResult<()> {
        let strategy = Strategy::parse(strategy).map_err(value_error)?;
        let config =
            JobConfig::new(job_task, strategy, match_skill, needs_nailing).map_err(value_error)?;
        self.inner.set_job(job_task, config);
        Ok(())
    }

    fn remove_job(&mut self, job_task: &str) {
        self.inner.remove_job(job_task);
    }

    fn has_job(&self, job_task: &str) -> bool {
        self.inner.has_job(job_task)
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (agent_id, job_task, agent_state, call_state, job_state, nailed, idle_since_ms, skills = None))]
    fn update(
        &mut self,
        agent_id: &str,
        job_task: Option<&str>,
        agent_state: &Bound<'_, PyAny>,
        call_state: &Bound<'_, PyAny>,
        job_state: &Bound<'_, PyAny>,
        nailed: bool,
        idle_since_ms: i64,
        skills: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<bool> {
        let row = AgentRow {
            agent_id,
            job_task,
            status: status(agent_state, call_state, job_state, nailed)?,
            idle_since_ms,
            skills: pool_skills(skills)?,
        };
        Ok(self.inner.update(row))
    }

    fn update_many(&mut self, rows: &Bound<'_, PyAny>) -> PyResult<usize> {
        let inner = &mut self.inner;
        for_each_batch(rows, |batch| {
            inner.update_many(batch);
        })?;
        Ok(inner.len())
    }

    fn rebuild(&mut self, rows: &Bound<'_, PyAny>) -> PyResult<()> {
        // Validate everything first so a bad row leaves the pool as it was.
        let mut fresh = self.inner.without_agents();
        for_each_batch(rows, |batch| {
            fresh.update_many(batch);
        })?;
        self.inner = fresh;
        Ok(())
    }

    fn remove(&mut self, agent_id: &str) {
        self.inner.remove(agent_id);
    }

    fn match_call<'py>(&mut self, py: Python<'py>, job_task: &str) -> Option<Bound<'py, PyString>> {
        self.inner
            .match_call(job_task)
            .map(|id| PyString::new(py, id.as_str()))
    }

    fn match_many<'py>(
        &mut self,
        py: Python<'py>,
        job_tasks: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        // A batch of names at a time through the core's `match_many` (which prefetches); a bad
        // name raises after the names before it were matched, as `match_call` one by one would.
        // The answers are gathered first and the list built once at its final size.
        let inner = &mut self.inner;
        let mut out: Vec<Bound<'py, PyAny>> = Vec::with_capacity(job_tasks.len().unwrap_or(0));
        let mut held: Vec<Bound<'py, PyAny>> = Vec::with_capacity(pool::BATCH);
        let mut flush = |held: &mut Vec<Bound<'py, PyAny>>| -> PyResult<()> {
            let mut names = Vec::with_capacity(held.len());
            let mut err = None;
            for j in held.iter() {
                match j
                    .cast::<PyString>()
                    .map_err(PyErr::from)
                    .and_then(|s| s.to_str())
                {
                    Ok(name) => names.push(name),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            for id in inner.match_many(names) {
                out.push(match id {
                    Some(id) => PyString::new(py, id.as_str()).into_any(),
                    None => py.None().into_bound(py),
                });
            }
            held.clear();
            err.map_or(Ok(()), Err)
        };
        let mut iter: Box<dyn Iterator<Item = PyResult<Bound<'py, PyAny>>>> =
            if let Ok(list) = job_tasks.cast::<PyList>() {
                Box::new(list.iter().map(Ok))
            } else {
                Box::new(job_tasks.try_iter()?)
            };
        loop {
            match iter.next() {
                None => break,
                Some(Ok(j)) => {
                    held.push(j);
                    if held.len() == pool::BATCH {
                        flush(&mut held)?;
                    }
                }
                Some(Err(e)) => {
                    flush(&mut held)?;
                    return Err(e);
                }
            }
        }
        flush(&mut held)?;
        PyList::new(py, out)
    }

    fn is_available(&self, agent_id: &str) -> bool {
        self.inner.is_available(agent_id)
    }

    fn available(&self, job_task: &str) -> usize {
        self.inner.available(job_task)
    }

    fn agent_count(&self) -> usize {
        self.inner.agent_count()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// The incremental allocator of agents to job-tasks.
#[pyclass(module = "dispatcher_rs._native")]
struct Allocator {
    inner: allocate::Allocator,
}

fn alloc_skills<'py>(skills: &Bound<'py, PyDict>) -> PyResult<Vec<(Bound<'py, PyString>, i32)>> {
    let mut out = Vec::with_capacity(skills.len());
    for (k, v) in skills.iter() {
        out.push((k.cast_into::<PyString>()?, v.extract::<i32>()?));
    }
    Ok(out)
}

fn upsert_agent_from(
    inner: &mut allocate::Allocator,
    agent_id: &str,
    skills: &Bound<'_, PyDict>,
    idle: bool,
    job_task: Option<&str>,
) -> PyResult<()> {
    let owned = alloc_skills(skills)?;
    let mut borrowed = Vec::with_capacity(owned.len());
    for (k, v) in &owned {
        borrowed.push((k.to_str()?, *v));
    }
    inner.upsert_agent(agent_id, &borrowed, idle, job_task);
    Ok(())
}

#[pymethods]
impl Allocator {
    #[new]
    fn new() -> Self {
        Allocator {
            inner: allocate::Allocator::new(),
        }
    }

    #[pyo3(signature = (agent_id, skills, idle, job_task = None))]
    fn upsert_agent(
        &mut self,
        agent_id: &str,
        skills: &Bound<'_, PyDict>,
        idle: bool,
        job_task: Option<&str>,
    ) -> PyResult<()> {
        upsert_agent_from(&mut self.inner, agent_id, skills, idle, job_task)
    }

    fn upsert_agents(&mut self, rows: &Bound<'_, PyAny>) -> PyResult<()> {
        for row in rows.try_iter()? {
            let row = row?;
            let t = row.cast::<PyTuple>()?;
            if t.len() != 4 {
                return Err(PyValueError::new_err(format!(
                    "an allocator row has 4 fields (agent_id, skills, idle, job_task), got {}",
                    t.len()
                )));
            }
            let (id, skills, job) = (t.get_item(0)?, t.get_item(1)?, t.get_item(3)?);
            upsert_agent_from(
                &mut self.inner,
                id.cast::<PyString>()?.to_str()?,
                skills.cast::<PyDict>()?,
                t.get_item(2)?.extract()?,
                opt_str(&job)?,
            )?;
        }
        Ok(())
    }

    fn remove_agent(&mut self, agent_id: &str) {
        self.inner.remove_agent(agent_id);
    }

    fn upsert_job(
        &mut self,
        job_task: &str,
        required_skills: &Bound<'_, PyAny>,
        min_agents: i64,
        max_agents: i64,
        priority: i64,
        licenses: i64,
    ) -> PyResult<()> {
        if required_skills.is_instance_of::<PyString>() {
            return Err(PyValueError::new_err(
                "required_skills must be a collection of names, not a str",
            ));
        }
        let names: Vec<Bound<'_, PyString>> = required_skills
            .try_iter()?
            .map(|s| Ok(s?.cast_into::<PyString>()?))
            .collect::<PyResult<_>>()?;
        let required = names
            .iter()
            .map(|s| s.to_str())
            .collect::<PyResult<Vec<&str>>>()?;
        let (min_agents, max_agents, licenses) =
            JobSpec::counts(min_agents, max_agents, licenses).map_err(value_error)?;
        self.inner.upsert_job(&JobSpec {
            job_task,
            required_skills: required,
            min_agents,
            max_agents,
            priority,
            licenses,
        });
        Ok(())
    }

    fn remove_job(&mut self, job_task: &str) {
        self.inner.remove_job(job_task);
    }

    /// The moves as `dispatcher_rs.Move` (a named tuple: action, agent_id, job_task,
    /// reason), built by the package's own class so both sides name the fields alike.
    fn plan<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let moves = self.inner.plan();
        if moves.is_empty() {
            return Ok(out);
        }
        let named = py.import("dispatcher_rs")?.getattr("Move")?;
        for m in moves {
            let t = named.call1((
                m.action.as_str(),
                &*m.agent_id,
                &*m.job_task,
                m.reason.as_str(),
            ))?;
            out.append(t)?;
        }
        Ok(out)
    }

    fn job_agents(&self, job_task: &str) -> usize {
        self.inner.job_agents(job_task)
    }

    fn agent_job<'py>(&self, py: Python<'py>, agent_id: &str) -> Option<Bound<'py, PyString>> {
        self.inner
            .agent_job(agent_id)
            .map(|j| PyString::new(py, &j))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// The availability rule on its own (see `Pool`): whether an agent in these states, attached
/// to a job-task that needs nailing or not, may take a call.
#[pyfunction]
#[pyo3(signature = (agent_state, call_state, job_state, nailed, needs_nailing = true))]
fn is_available_state(
    agent_state: &Bound<'_, PyAny>,
    call_state: &Bound<'_, PyAny>,
    job_state: &Bound<'_, PyAny>,
    nailed: bool,
    needs_nailing: bool,
) -> PyResult<bool> {
    let st = status(agent_state, call_state, job_state, nailed)?;
    let job = JobConfig {
        strategy: Strategy::LongestIdle,
        match_skill: None,
        needs_nailing,
    };
    Ok(pool::is_available(&st, Some(&job)))
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|s| name(*s)).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", crate::version::VERSION)?;
    m.add(
        "AGENT_STATES",
        PyTuple::new(py, names(AgentState::ALL, AgentState::as_str))?,
    )?;
    m.add(
        "CALL_STATES",
        PyTuple::new(py, names(CallState::ALL, CallState::as_str))?,
    )?;
    m.add(
        "JOB_STATES",
        PyTuple::new(py, names(JobState::ALL, JobState::as_str))?,
    )?;
    m.add_class::<Pool>()?;
    m.add_class::<Allocator>()?;
    m.add_function(wrap_pyfunction!(is_available_state, m)?)?;
    Ok(())
}
