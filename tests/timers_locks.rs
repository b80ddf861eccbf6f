//! Timers, threads, locks and the small API functions (repy-api.md §8), and the `events`
//! limit that bounds them.

mod common;

use common::{once, restrictions_with, run_program, Vessel};

/// Nine timers that each wait until all nine are running at the same moment: this only
/// finishes if they really run concurrently. None ends before the tenth `settimer` has been
/// tried, so all ten events are in use then, however the threads are scheduled.
const NINE_CONCURRENT: &str = r#"
lock = getlock()
def worker(i):
    with lock:
        mycontext['running'] += 1
    deadline = getruntime() + 20
    while mycontext['running'] < 9 or not mycontext['tried']:
        if getruntime() > deadline:
            print('timer', i, 'never saw the others')
            return
        sleep(0.01)
    with lock:
        mycontext['done'] += 1

if callfunc == 'initialize':
    mycontext['running'] = 0
    mycontext['done'] = 0
    mycontext['tried'] = False
    for i in range(9):
        settimer(0, worker, [i])
    try:
        settimer(0, worker, [9])
        print('tenth timer accepted')
    except ResourceExhaustedError as e:
        print('refused:', e)
    mycontext['tried'] = True
else:
    print('done', mycontext['done'])
"#;

#[test]
fn nine_timers_under_events_10_run_concurrently_and_the_tenth_is_refused() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource events 10"));
    let run = vessel.run(NINE_CONCURRENT, &["--restrictions", "r.txt"], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "refused: settimer: events limit reached (10 of 10 in use)\ndone 9\n", "{run:?}");
}

#[test]
fn cancelled_timers_free_their_event_and_never_run() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource events 2"));
    let run = vessel.run(
        "def f():\n    print('ran')\nif callfunc == 'initialize':\n    h = settimer(60, f, [])\n    print(canceltimer(h), canceltimer(h))\n    h2 = settimer(0, f, [])\n",
        &["--restrictions", "r.txt"],
        &[],
    );
    assert_eq!(run.stdout, "True False\nran\n", "{run:?}");
}

#[test]
fn canceltimer_of_a_started_timer_is_false() {
    let run = run_program(
        "started = getlock()\ndef f():\n    started.release()\n    sleep(0.3)\nif callfunc == 'initialize':\n    started.acquire()\n    h = settimer(0, f, [])\n    started.acquire()\n    print(canceltimer(h))\n",
    );
    assert_eq!(run.stdout, "False\n", "{run:?}");
}

#[test]
fn timer_arguments_are_copied_when_the_timer_is_set() {
    let run = run_program(
        "def f(items):\n    print(items)\nif callfunc == 'initialize':\n    data = [1, [2]]\n    settimer(0.1, f, [data])\n    data.append(3)\n    data[1].append(4)\n",
    );
    assert_eq!(run.stdout, "[1, [2]]\n", "{run:?}");
}

#[test]
fn settimer_checks_its_arguments() {
    let run = run_program(
        &once("for args in [('1', print, []), (1, 5, []), (1, print, 'x'), (True, print, [])]:\n    try:\n        settimer(*args)\n    except RepyArgumentError as e:\n        print('refused', e)\n"),
    );
    assert_eq!(run.stdout.matches("refused settimer:").count(), 4, "{run:?}");
}

#[test]
fn thread_names_are_unique_and_follow_the_spec() {
    let run = run_program(
        "done = getlock()\ndef f():\n    print(get_thread_name())\n    done.release()\nif callfunc == 'initialize':\n    print(get_thread_name())\n    done.acquire()\n    settimer(0, f, [])\n    done.acquire()\n    settimer(0, f, [])\nelse:\n    print(get_thread_name())\n",
    );
    assert_eq!(run.stdout, "MainThread\n_EVENT:Thread:1\n_EVENT:Thread:2\nMainThread\n", "{run:?}");
}

#[test]
fn locks_block_report_and_refuse_double_release() {
    let run = run_program(
        &once("l = getlock()\nprint(l.acquire(), l.acquire(False), l.acquire(blocking=0))\nl.release()\ntry:\n    l.release()\nexcept LockDoubleReleaseError as e:\n    print('double:', e)\nexcept RuntimeError:\n    print('wrong class')\nwith l:\n    print(l.acquire(False))\nprint(l.acquire(False))\n"),
    );
    assert_eq!(run.stdout, "True False False\ndouble: release: the lock is not locked\nFalse\nTrue\n", "{run:?}");
}

#[test]
fn a_lock_can_be_released_by_another_thread() {
    let run = run_program(
        "l = getlock()\ndef free():\n    l.release()\nif callfunc == 'initialize':\n    l.acquire()\n    settimer(0.1, free, [])\n    print(l.acquire())\n",
    );
    assert_eq!(run.stdout, "True\n", "{run:?}");
}

#[test]
fn api_objects_cannot_be_constructed_or_subclassed() {
    let run = run_program(
        &once("L = type(getlock())\ntry:\n    L()\nexcept TypeError:\n    print('no construct')\ntry:\n    class M(L):\n        pass\nexcept TypeError:\n    print('no subclass')\n"),
    );
    assert_eq!(run.stdout, "no construct\nno subclass\n", "{run:?}");
}

#[test]
fn sleep_getruntime_and_randomfloat() {
    let run = run_program(
        &once("t0 = getruntime()\nsleep(0.2)\nt1 = getruntime()\nprint(t1 - t0 >= 0.2, t0 >= 0)\nr = [randomfloat() for i in range(100)]\nprint(all(0 <= x < 1 for x in r), len(set(r)) > 90)\nsleep(-1)\ntry:\n    sleep('1')\nexcept RepyArgumentError as e:\n    print(e)\n"),
    );
    assert_eq!(run.stdout, "True True\nTrue True\nsleep: seconds must be a number\n", "{run:?}");
}

#[test]
fn a_zero_random_limit_forbids_randomfloat() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource random 0"));
    let run = vessel.run(
        &once("try:\n    randomfloat()\nexcept ResourceForbiddenError as e:\n    print(e)\n"),
        &["--restrictions", "r.txt"],
        &[],
    );
    assert_eq!(run.stdout, "randomfloat: the random limit is 0\n", "{run:?}");
}

#[test]
fn call_rules_deny_with_the_line_that_decided() {
    let vessel = Vessel::new();
    let mut text = restrictions_with("");
    text = text.replace("call sleep allow\n", "call sleep arg 0 is 0.5 deny\ncall sleep allow\n");
    vessel.write("r.txt", &text);
    let run = vessel.run(
        &once("sleep(0.01)\ntry:\n    sleep(0.5)\nexcept ResourceForbiddenError as e:\n    print(e)\n"),
        &["--restrictions", "r.txt"],
        &[],
    );
    let line = text.lines().position(|l| l.starts_with("call sleep arg")).unwrap() + 1;
    assert_eq!(
        run.stdout,
        format!("sleep: denied by restrictions line {line} ('call sleep arg 0 is 0.5 deny') for arguments (0.5,)\n"),
        "{run:?}"
    );
}

#[test]
fn repy_exceptions_keep_their_python_bases() {
    let run = run_program(
        &once("print(issubclass(RepyArgumentError, TypeError), issubclass(RepyArgumentError, ValueError), issubclass(RepyArgumentError, RepyError))\nprint(issubclass(TimeoutError, RepyError), issubclass(FileNotFoundError, OSError), issubclass(ResourceExhaustedError, ResourceError))\ntry:\n    settimer('x', print, [])\nexcept ValueError as e:\n    print('caught as ValueError', e.args)\n"),
    );
    assert_eq!(run.stdout, "True True True\nTrue True True\ncaught as ValueError ('settimer: waittime must be a number',)\n", "{run:?}");
}

/// RustPython 0.6 collects garbage with every thread stopped at a safe point: a thread
/// blocked in `sleep` or in a lock's `acquire` must not hold that up (before the API
/// detached its waits, 200 000 cycles took as long as the sleep).
#[test]
fn garbage_collection_is_not_held_up_by_blocked_threads() {
    let source = "\
def sleeper():
    sleep(30)
def waiter(lock):
    lock.acquire()
if callfunc == 'initialize':
    held = getlock()
    held.acquire()
    settimer(0, sleeper, [])
    settimer(0, waiter, [held])
    sleep(0.2)
    start = getruntime()
    for i in range(200000):
        a = []
        a.append(a)
    took = getruntime() - start
    print('fast' if took < 10 else 'held up for %.1f s' % took)
    exitall()
";
    let run = run_program(source);
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), "fast\n"), "{run:?}");
}
