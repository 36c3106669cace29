// Package programme owns the day: which talk is on which stage, starting and
// stopping talks (by hand, with Next, or by the schedule when a stage is in
// auto mode), and the end-of-talk work that must survive a crash (the talk's
// chat log, the presenter's slide changes and slide track, the final cut).
//
// It sits below web, which turns HTTP into calls on a Programme, and above
// archive (the talks and their cuts) and the chat rooms, which it reaches
// through small interfaces declared here. Nothing about a talk's life runs
// on a caller's context: a request that goes away does not cancel a start
// or a stop, and the work after a stop is spooled to local disk before the
// stop is acknowledged, then done by a worker that retries until it is (on
// a cluster also posted where every node sees it, so that another node
// does it if this one dies: job_board.go).
package programme
