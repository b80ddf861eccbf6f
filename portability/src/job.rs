//! Windows Job Objects, the one tool Windows has for what Unix does with process groups,
//! parent-death signals and resource limits: a job holds a process and everything it starts,
//! can be ended as a whole, caps their committed memory, and with
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` ends them when its last handle closes (so when the
//! process that made it ends, however it ends).

use std::{
    io,
    os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle},
    sync::{Mutex, OnceLock},
};

use windows_sys::Win32::{
    Foundation::HANDLE,
    System::{
        JobObjects::{
            AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation, JobObjectBasicProcessIdList,
            JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject, TerminateJobObject,
            JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, JOBOBJECT_BASIC_PROCESS_ID_LIST, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
            JOB_OBJECT_LIMIT_ACTIVE_PROCESS, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, JOB_OBJECT_LIMIT_PROCESS_MEMORY,
        },
        Threading::GetCurrentProcess,
    },
};

/// An unnamed job; closing its last handle ends its processes if it kills on close.
pub(crate) struct Job(OwnedHandle);

fn check(ok: i32) -> io::Result<()> {
    if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Job {
    pub fn new() -> io::Result<Job> {
        // SAFETY: an unnamed job with default security; a null result is an error.
        let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if raw.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh handle that nothing else owns.
        Ok(Job(unsafe { OwnedHandle::from_raw_handle(raw) }))
    }

    fn raw(&self) -> HANDLE {
        self.0.as_raw_handle() as HANDLE
    }

    fn limits(&self) -> io::Result<JOBOBJECT_EXTENDED_LIMIT_INFORMATION> {
        // SAFETY: plain old data; all zeroes is valid.
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: the buffer is the structure the class names, of the size passed.
        check(unsafe {
            QueryInformationJobObject(
                self.raw(),
                JobObjectExtendedLimitInformation,
                (&mut limits as *mut JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
                std::ptr::null_mut(),
            )
        })?;
        Ok(limits)
    }

    /// Adds limits to those the job has: `kill_on_close`, at most `processes` active
    /// processes, at most `memory` bytes committed by each process.
    pub fn limit(&self, kill_on_close: bool, processes: Option<u32>, memory: Option<u64>) -> io::Result<()> {
        let mut limits = self.limits()?;
        let basic = &mut limits.BasicLimitInformation;
        if kill_on_close {
            basic.LimitFlags |= JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        }
        if let Some(n) = processes {
            basic.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
            basic.ActiveProcessLimit = n;
        }
        if let Some(bytes) = memory {
            basic.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY;
            limits.ProcessMemoryLimit = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        // SAFETY: as in `limits`, for reading.
        check(unsafe {
            SetInformationJobObject(
                self.raw(),
                JobObjectExtendedLimitInformation,
                (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        })
    }

    /// Puts the process behind `process` (a handle with PROCESS_SET_QUOTA and
    /// PROCESS_TERMINATE rights) in the job.
    pub fn assign(&self, process: HANDLE) -> io::Result<()> {
        // SAFETY: both handles are valid for the call.
        check(unsafe { AssignProcessToJobObject(self.raw(), process) })
    }

    /// Ends every process in the job with exit code `code`.
    pub fn terminate(&self, code: u32) -> io::Result<()> {
        // SAFETY: a valid job handle.
        check(unsafe { TerminateJobObject(self.raw(), code) })
    }

    /// How many processes are in the job now.
    pub fn active_processes(&self) -> io::Result<u32> {
        // SAFETY: plain old data; all zeroes is valid.
        let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: the buffer is the structure the class names, of the size passed.
        check(unsafe {
            QueryInformationJobObject(
                self.raw(),
                JobObjectBasicAccountingInformation,
                (&mut info as *mut JOBOBJECT_BASIC_ACCOUNTING_INFORMATION).cast(),
                size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
                std::ptr::null_mut(),
            )
        })?;
        Ok(info.ActiveProcesses)
    }

    /// The ids of the processes in the job (at most 1024, far more than a vessel has).
    pub fn process_ids(&self) -> io::Result<Vec<u32>> {
        const MAX: usize = 1024;
        /// The list's header followed by room for MAX ids, as the call expects.
        #[repr(C)]
        struct List {
            header: JOBOBJECT_BASIC_PROCESS_ID_LIST,
            more: [usize; MAX],
        }
        // SAFETY: plain old data; all zeroes is valid.
        let mut list: List = unsafe { std::mem::zeroed() };
        // SAFETY: the buffer is a process id list with room for MAX + 1 ids, its size passed.
        check(unsafe {
            QueryInformationJobObject(
                self.raw(),
                JobObjectBasicProcessIdList,
                (&mut list as *mut List).cast(),
                size_of::<List>() as u32,
                std::ptr::null_mut(),
            )
        })?;
        let count = (list.header.NumberOfProcessIdsInList as usize).min(MAX + 1);
        let base = std::ptr::addr_of!(list.header.ProcessIdList).cast::<usize>();
        // SAFETY: the call wrote `count` ids from ProcessIdList on, inside `list`.
        Ok((0..count).map(|i| unsafe { *base.add(i) } as u32).collect())
    }
}

/// The job this process put itself in ([`own_job`]), made on first use.
static OWN: OnceLock<Result<Job, i32>> = OnceLock::new();

/// A job holding the calling process, for limits on itself; its handle stays open until the
/// process ends. Made once, so the memory cap and the kernel wall share one job rather than
/// nest two.
pub(crate) fn own_job() -> io::Result<&'static Job> {
    let made = OWN.get_or_init(|| {
        let job = Job::new().map_err(|e| e.raw_os_error().unwrap_or(0))?;
        // SAFETY: the pseudo-handle of this process needs no closing.
        job.assign(unsafe { GetCurrentProcess() }).map_err(|e| e.raw_os_error().unwrap_or(0))?;
        Ok(job)
    });
    made.as_ref().map_err(|&code| io::Error::from_raw_os_error(code))
}

/// The jobs of the children started by [`crate::child::spawn_supervised`], by the pid of
/// the child, kept open while they have processes: with kill-on-close, this process's end
/// ends them.
static CHILDREN: Mutex<Vec<(u32, Job)>> = Mutex::new(Vec::new());

pub(crate) fn keep_child_job(pid: u32, job: Job) {
    let mut jobs = CHILDREN.lock().unwrap_or_else(|p| p.into_inner());
    // Jobs whose processes have all ended are of no further use.
    jobs.retain(|(_, job)| job.active_processes().map_or(true, |n| n > 0));
    jobs.push((pid, job));
}

/// Runs `action` on the job of child `pid`, if it has one.
pub(crate) fn with_child_job<T>(pid: u32, action: impl FnOnce(&Job) -> T) -> Option<T> {
    let jobs = CHILDREN.lock().unwrap_or_else(|p| p.into_inner());
    jobs.iter().find(|(p, _)| *p == pid).map(|(_, job)| action(job))
}
