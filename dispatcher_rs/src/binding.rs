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

/// Extracts the rows of `update_many` / `rebuild` and feeds them to `f`.
fn for_each_row(rows: &Bound<'_, PyAny>, mut f: impl FnMut(AgentRow<'_>)) -> PyResult<()> {
    let mut one = |row: &Bound<'_, PyAny>| -> PyResult<()> {
        let t = row.cast::<PyTuple>()?;
        if t.len() != 8 {
            return Err(PyValueError::new_err(format!(
                "a pool row has 8 fields (agent_id, job_task, agent_state, call_state, job_state, \
                 nailed, idle_since_ms, skills), got {}",
                t.len()
            )));
        }
        let item = |i: usize| t.get_borrowed_item(i);
        let (f0, f1, skills) = (item(0)?, item(1)?, item(7)?);
        let skills = if skills.is_none() {
            None
        } else {
            Some(skills.cast::<PyDict>()?)
        };
        f(AgentRow {
            agent_id: f0.cast::<PyString>()?.to_str()?,
            job_task: opt_str(&f1)?,
            status: status(&*item(2)?, &*item(3)?, &*item(4)?, item(5)?.extract()?)?,
            idle_since_ms: item(6)?.extract()?,
            skills: pool_skills(skills.as_deref())?,
        });
        Ok(())
    };
    if let Ok(list) = rows.cast::<PyList>() {
        for row in list.iter() {
            one(&row)?;
        }
    } else {
        for row in rows.try_iter()? {
            one(&row?)?;
        }
    }
    Ok(())
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
        for_each_row(rows, |row| {
            inner.update(row);
        })?;
        Ok(inner.len())
    }

    fn rebuild(&mut self, rows: &Bound<'_, PyAny>) -> PyResult<()> {
        // Validate everything first so a bad row leaves the pool as it was.
        let mut fresh = self.inner.without_agents();
        for_each_row(rows, |row| {
            fresh.update(row);
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
        let out = PyList::empty(py);
        let mut one = |j: &Bound<'py, PyAny>| -> PyResult<()> {
            match self.inner.match_call(j.cast::<PyString>()?.to_str()?) {
                Some(id) => out.append(PyString::new(py, id.as_str())),
                None => out.append(py.None()),
            }
        };
        if let Ok(list) = job_tasks.cast::<PyList>() {
            for j in list.iter() {
                one(&j)?;
            }
        } else {
            for j in job_tasks.try_iter()? {
                one(&j?)?;
            }
        }
        Ok(out)
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

    fn plan<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for m in self.inner.plan() {
            let t = PyTuple::new(
                py,
                [
                    m.action.as_str(),
                    &m.agent_id,
                    &m.job_task,
                    m.reason.as_str(),
                ],
            )?;
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
