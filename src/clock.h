/* clock.h - the monotonic clock, for timeouts, ages and cache lifetimes. */
#ifndef GLUEFS_CLOCK_H
#define GLUEFS_CLOCK_H

/* Seconds (with nanosecond fraction) on CLOCK_MONOTONIC: only differences
 * mean anything; never jumps with the wall clock.  Never fails. */
double clock_mono_s(void);

#endif
