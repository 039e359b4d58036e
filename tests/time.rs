//! Time: `sleep` and `sleep_until` (never early, not absurdly late; a past deadline is ready
//! at once), `timeout`, `Sleep::reset`, `interval` and its `MissedTickBehavior`s, 100,000
//! concurrent sleeps, and timers leaving the driver (`metrics().active_timers()` back to 0)
//! when they fire or are dropped.

mod util;

use kq::runtime::Runtime;
use kq::time::{
    Duration, Instant, MissedTickBehavior, interval, interval_at, sleep, sleep_until, timeout,
    timeout_at,
};
use std::future::poll_fn;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use tokio_test::{assert_pending, assert_ready};
use util::{BOUND, LATE, assert_not_early, wait_until};

fn runtimes() -> [Runtime; 3] {
    [
        util::current_thread(),
        util::multi_thread(1),
        util::multi_thread(2),
    ]
}

#[test]
fn sleep_is_never_early_nor_absurdly_late() {
    for rt in runtimes() {
        rt.block_on(async {
            for ms in [0u64, 1, 5, 20, 50] {
                let d = Duration::from_millis(ms);
                let start = std::time::Instant::now();
                sleep(d).await;
                assert_not_early(&format!("sleep({d:?})"), start.elapsed(), d);
            }
        });
        assert_eq!(rt.metrics().active_timers(), 0, "{rt:?}");
    }
}

#[test]
fn sleeps_in_many_tasks_are_never_early() {
    for rt in runtimes() {
        rt.block_on(async {
            let handles: Vec<_> = (0..50u64)
                .map(|i| {
                    kq::spawn(async move {
                        let d = Duration::from_millis(i % 10 * 3);
                        let start = Instant::now();
                        sleep(d).await;
                        (d, start.elapsed())
                    })
                })
                .collect();
            for h in handles {
                let (d, elapsed) = h.await.unwrap();
                assert_not_early("sleep in a task", elapsed, d);
            }
        });
    }
}

#[test]
fn sleep_until_is_never_early() {
    for rt in runtimes() {
        rt.block_on(async {
            let deadline = Instant::now() + Duration::from_millis(30);
            let s = sleep_until(deadline);
            assert_eq!(s.deadline(), deadline);
            s.await;
            assert!(Instant::now() >= deadline, "sleep_until woke early");
            assert!(
                Instant::now() < deadline + LATE,
                "sleep_until woke absurdly late"
            );
        });
    }
}

#[test]
fn sleep_until_a_past_deadline_is_ready_at_once() {
    let rt = util::current_thread();
    let _g = rt.enter();
    for deadline in [Instant::now(), Instant::now() - Duration::from_secs(5)] {
        let mut s = tokio_test::task::spawn(sleep_until(deadline));
        assert_ready!(s.poll());
        assert!(s.is_elapsed());
    }
    // A zero sleep too; none of them armed a timer.
    let mut s = tokio_test::task::spawn(sleep(Duration::ZERO));
    assert_ready!(s.poll());
    assert_eq!(rt.metrics().active_timers(), 0);
}

#[test]
fn timeout_elapses_for_a_pending_future() {
    for rt in runtimes() {
        rt.block_on(async {
            let d = Duration::from_millis(40);
            let start = std::time::Instant::now();
            let res = timeout(d, std::future::pending::<()>()).await;
            assert!(res.is_err(), "a pending future cannot complete");
            let err = res.unwrap_err();
            assert_eq!(err.to_string(), "deadline has elapsed");
            assert_eq!(
                std::io::Error::from(err).kind(),
                std::io::ErrorKind::TimedOut
            );
            assert_not_early("timeout", start.elapsed(), d);

            let deadline = Instant::now() + Duration::from_millis(20);
            assert!(
                timeout_at(deadline, sleep(Duration::from_secs(3600)))
                    .await
                    .is_err()
            );
            assert!(Instant::now() >= deadline, "timeout_at elapsed early");
        });
        assert_eq!(rt.metrics().active_timers(), 0);
    }
}

#[test]
fn timeout_returns_the_output_of_a_ready_future() {
    for rt in runtimes() {
        rt.block_on(async {
            assert_eq!(timeout(Duration::from_secs(5), async { 5 }).await, Ok(5));
            // Polled before the deadline is checked: even a zero timeout gives the output.
            assert_eq!(timeout(Duration::ZERO, async { "now" }).await, Ok("now"));
            // A future that completes before its deadline, after waiting.
            let start = std::time::Instant::now();
            let out = timeout(Duration::from_secs(10), async {
                sleep(Duration::from_millis(10)).await;
                "slept"
            })
            .await;
            assert_eq!(out, Ok("slept"));
            assert!(start.elapsed() < LATE, "timeout waited for its deadline");
        });
        // The timeout's own timer is gone with it.
        assert_eq!(rt.metrics().active_timers(), 0, "{rt:?}");
    }
}

#[test]
fn sleep_reset_moves_the_deadline() {
    for rt in runtimes() {
        rt.block_on(async {
            // Earlier: a sleep of an hour, polled (armed), then reset to 20 ms from now.
            let mut s = pin!(sleep(Duration::from_secs(3600)));
            assert!(
                timeout(Duration::from_millis(1), s.as_mut()).await.is_err(),
                "an hour's sleep finished"
            );
            let start = Instant::now();
            let new = start + Duration::from_millis(20);
            s.as_mut().reset(new);
            assert_eq!(s.deadline(), new);
            s.as_mut().await;
            assert_not_early("reset sleep", start.elapsed(), Duration::from_millis(20));
            assert!(s.is_elapsed());

            // Later again: an elapsed sleep reset into the future is pending anew.
            let start = Instant::now();
            s.as_mut().reset(start + Duration::from_millis(30));
            assert!(!s.is_elapsed());
            s.as_mut().await;
            assert_not_early(
                "sleep reset after it fired",
                start.elapsed(),
                Duration::from_millis(30),
            );
        });
        assert_eq!(rt.metrics().active_timers(), 0);
    }
}

#[test]
fn interval_first_tick_is_immediate_then_spaced_by_the_period() {
    let period = Duration::from_millis(20);
    for rt in runtimes() {
        rt.block_on(async {
            let start = Instant::now();
            let mut iv = interval(period);
            assert_eq!(iv.period(), period);
            assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
            let first = iv.tick().await;
            assert!(first >= start && first <= Instant::now());
            assert!(start.elapsed() < LATE, "the first tick was not immediate");
            let mut prev = first;
            for k in 1..=5u32 {
                let t = iv.tick().await;
                let now = Instant::now();
                // On schedule: the due instants are exact multiples of the period.
                assert_eq!(t, first + period * k, "tick {k} was due at another instant");
                assert!(now >= t, "tick {k} completed before it was due");
                assert!(t - prev >= period);
                prev = t;
            }
            assert_not_early("five periods", start.elapsed(), period * 5);
        });
    }
}

#[test]
fn interval_at_starts_at_the_given_instant() {
    let rt = util::current_thread();
    rt.block_on(async {
        let start = Instant::now() + Duration::from_millis(30);
        let mut iv = interval_at(start, Duration::from_millis(10));
        assert_eq!(iv.tick().await, start);
        assert!(
            Instant::now() >= start,
            "the first tick of interval_at came early"
        );
        assert_eq!(iv.tick().await, start + Duration::from_millis(10));
    });
}

#[test]
fn interval_reset_restarts_the_period() {
    let rt = util::current_thread();
    rt.block_on(async {
        let period = Duration::from_millis(30);
        let mut iv = interval(period);
        iv.tick().await;
        let before = Instant::now();
        iv.reset();
        let t = iv.tick().await;
        assert!(
            t >= before + period,
            "after reset the next tick is a period away"
        );
        assert!(Instant::now() >= t);
    });
}

#[test]
#[should_panic(expected = "`period` must be non-zero.")]
fn interval_of_zero_panics() {
    let rt = util::current_thread();
    let _g = rt.enter();
    let _ = interval(Duration::ZERO);
}

/// Ticks once, then blocks the runtime's thread for 3.5 periods so that ticks are missed.
/// Returns the first tick's instant and the instant the block ended.
async fn miss_ticks(iv: &mut kq::time::Interval, period: Duration) -> (Instant, Instant) {
    let first = iv.tick().await;
    // Deliberately stall the runtime (this is the situation under test, not a wait).
    std::thread::sleep(period * 7 / 2);
    (first, Instant::now())
}

const MISS_PERIOD: Duration = Duration::from_millis(40);

#[test]
fn missed_ticks_burst_fires_them_at_once() {
    let p = MISS_PERIOD;
    let rt = util::current_thread();
    rt.block_on(async {
        let mut iv = interval(p);
        iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let (first, unblocked) = miss_ticks(&mut iv, p).await;
        // The missed ticks come back to back, each with its original instant.
        let mut k = 1;
        loop {
            let due = first + p * k;
            let t = iv.tick().await;
            assert_eq!(t, due, "burst tick {k}");
            assert!(Instant::now() >= t);
            if t > unblocked {
                // The first tick after the block that was not missed: waited for.
                break;
            }
            assert!(
                Instant::now() - unblocked < LATE,
                "a missed tick was not fired at once"
            );
            k += 1;
        }
        assert!(k >= 4, "only {k} ticks after 3.5 periods blocked");
    });
}

#[test]
fn missed_ticks_delay_restarts_the_period_from_the_late_tick() {
    let p = MISS_PERIOD;
    let rt = util::current_thread();
    rt.block_on(async {
        let mut iv = interval(p);
        iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (first, unblocked) = miss_ticks(&mut iv, p).await;
        // One late tick at once, with its original instant...
        let late = iv.tick().await;
        let fired = Instant::now();
        assert_eq!(late, first + p);
        assert!(fired - unblocked < LATE);
        // ...then the period counts from when it fired.
        let next = iv.tick().await;
        assert!(
            next >= unblocked + p,
            "Delay: next tick {:?} after the late one",
            next - unblocked
        );
        assert!(
            next <= fired + p,
            "Delay: next tick more than a period after the late one"
        );
        assert!(Instant::now() >= next);
        // The period is kept from there on (a tick that comes more than 5 ms late, on a
        // loaded machine, is itself delayed: never early, then).
        let after = iv.tick().await;
        assert!(
            after >= next + p,
            "Delay: the tick after the late one came early"
        );
        assert!(after < next + p + LATE);
    });
}

#[test]
fn missed_ticks_skip_keeps_the_original_schedule() {
    let p = MISS_PERIOD;
    let rt = util::current_thread();
    rt.block_on(async {
        let mut iv = interval(p);
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let (first, unblocked) = miss_ticks(&mut iv, p).await;
        let late = iv.tick().await;
        let fired = Instant::now();
        assert_eq!(late, first + p);
        let next = iv.tick().await;
        // On the original grid (a multiple of the period from the first tick), the first
        // grid point after the late tick fired: the missed ones are skipped.
        let offset = (next - first).as_nanos();
        assert_eq!(
            offset % p.as_nanos(),
            0,
            "Skip: {offset} ns is off the grid"
        );
        assert!(next > unblocked, "Skip: a missed tick was fired");
        assert!(
            next <= fired + p,
            "Skip: a grid point was skipped needlessly"
        );
        assert!(offset / p.as_nanos() >= 4);
        assert!(Instant::now() >= next);
    });
}

/// A gate that many tasks wait at, opened once with the instant their sleeps are due.
#[derive(Default)]
struct DueGate {
    state: Mutex<(Option<Instant>, Vec<Waker>)>,
}

impl DueGate {
    async fn wait(&self) -> Instant {
        poll_fn(|cx| {
            let mut st = self.state.lock().unwrap();
            match st.0 {
                Some(due) => Poll::Ready(due),
                None => {
                    st.1.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    fn open(&self, due: Instant) {
        let wakers = {
            let mut st = self.state.lock().unwrap();
            st.0 = Some(due);
            std::mem::take(&mut st.1)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

#[test]
fn hundred_thousand_concurrent_sleeps_complete() {
    const N: usize = 100_000;
    // Arming 100,000 timers takes about 0.2 s here; the margin covers a loaded machine.
    const MARGIN: Duration = Duration::from_secs(2);
    for rt in [util::current_thread(), util::multi_thread(2)] {
        let metrics = rt.metrics();
        let done = rt.block_on(async {
            // The tasks wait at a gate; once all are spawned, it opens with a deadline far
            // enough ahead that every sleep is armed before the first fires: all of them are
            // in the driver at once. They are due within 50 ms of it.
            let gate = Arc::new(DueGate::default());
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let gate = gate.clone();
                    kq::spawn(async move {
                        let due = gate.wait().await + Duration::from_millis((i % 50) as u64);
                        sleep_until(due).await;
                        Instant::now() >= due
                    })
                })
                .collect();
            let opened = Instant::now();
            let deadline = opened + MARGIN;
            gate.open(deadline);
            let mut peak = 0;
            while peak < N && Instant::now() < deadline {
                sleep(Duration::from_millis(1)).await;
                // This loop's own sleep has fired and left the driver by now.
                peak = peak.max(metrics.active_timers());
            }
            assert_eq!(
                peak,
                N,
                "the sleeps were not all armed at once ({:?} after the gate opened)",
                opened.elapsed()
            );
            let mut on_time = 0;
            for h in handles {
                on_time += usize::from(h.await.unwrap());
            }
            on_time
        });
        assert_eq!(done, N, "some sleeps finished early");
        assert_eq!(rt.metrics().active_timers(), 0, "{rt:?}");
    }
}

#[test]
fn dropping_a_pending_sleep_deletes_its_timer() {
    let rt = util::current_thread();
    {
        let _g = rt.enter();
        let mut s = tokio_test::task::spawn(sleep(Duration::from_secs(3600)));
        assert_eq!(
            rt.metrics().active_timers(),
            0,
            "armed before its first poll"
        );
        assert_pending!(s.poll());
        assert_eq!(rt.metrics().active_timers(), 1);
        let changes = rt.metrics().changes_submitted();
        drop(s);
        assert_eq!(
            rt.metrics().active_timers(),
            0,
            "a dropped sleep kept its timer"
        );
        // The arming and the deletion reach the kqueue together, in order, with the next
        // turn of the driver (a block_on that yields once turns it).
        rt.block_on(kq::task::yield_now());
        assert_eq!(
            rt.metrics().changes_submitted(),
            changes + 2,
            "the timer's addition and deletion were not both submitted"
        );
    }
    // In tasks: a thousand sleeps raced against a short one by `timeout`.
    for rt in runtimes() {
        rt.block_on(async {
            let handles: Vec<_> = (0..1000)
                .map(|_| {
                    kq::spawn(timeout(
                        Duration::from_millis(5),
                        sleep(Duration::from_secs(3600)),
                    ))
                })
                .collect();
            for h in handles {
                assert!(h.await.unwrap().is_err());
            }
        });
        assert_eq!(rt.metrics().active_timers(), 0, "{rt:?}");
    }
}

#[test]
fn aborted_sleeping_tasks_leave_no_timers() {
    for rt in runtimes() {
        let handles: Vec<_> = (0..100)
            .map(|_| rt.spawn(async { sleep(Duration::from_secs(3600)).await }))
            .collect();
        let metrics = rt.metrics();
        wait_until("every task armed its sleep", BOUND, || {
            // A current-thread runtime arms them only when it runs.
            rt.block_on(kq::task::yield_now());
            metrics.active_timers() == 100
        });
        for h in &handles {
            h.abort();
        }
        rt.block_on(async {
            for h in handles {
                assert!(h.await.unwrap_err().is_cancelled());
            }
        });
        assert_eq!(rt.metrics().active_timers(), 0, "{rt:?}");
    }
}

#[test]
fn sleep_of_a_huge_duration_is_pending_and_cancellable() {
    let rt = util::multi_thread(1);
    {
        let _g = rt.enter();
        let mut huge = tokio_test::task::spawn(sleep(Duration::MAX));
        assert_pending!(huge.poll());
        assert_eq!(rt.metrics().active_timers(), 1);
        // A short sleep armed after it fires first; the huge one has not fired by then.
        rt.block_on(sleep(Duration::from_millis(20)));
        assert!(!huge.is_woken(), "a sleep of Duration::MAX fired");
        assert_pending!(huge.poll());
        drop(huge);
        assert_eq!(rt.metrics().active_timers(), 0);
    }
    rt.block_on(async {
        assert_eq!(timeout(Duration::MAX, async { 1 }).await, Ok(1));
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        assert!(
            timeout(Duration::from_millis(5), sleep_until(far))
                .await
                .is_err()
        );
    });
}

#[test]
fn timers_reset_many_times_leave_no_timers() {
    for rt in runtimes() {
        rt.block_on(async {
            let mut s = pin!(sleep(Duration::from_secs(3600)));
            for i in 0..2000u64 {
                s.as_mut()
                    .reset(Instant::now() + Duration::from_secs(3600 + i));
                // Arm it again each time.
                assert!(
                    timeout(Duration::ZERO, s.as_mut()).await.is_err(),
                    "an hour's sleep finished"
                );
            }
            let start = Instant::now();
            s.as_mut().reset(start + Duration::from_millis(10));
            s.as_mut().await;
            assert_not_early("the last reset", start.elapsed(), Duration::from_millis(10));
        });
        assert_eq!(rt.metrics().active_timers(), 0, "{rt:?}");
    }
}
