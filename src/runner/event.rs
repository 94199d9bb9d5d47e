use crate::domain::RunId;

/// What a running run reports. Progress is throttled at the source; lifecycle events never are.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RunEvent {
    /// Work began; `done` episodes were already finished before (resume).
    Started { run: RunId, total: u64, done: u64 },
    /// Counts so far (done includes failed), and signs of life; sent at least once a second.
    Progress { run: RunId, done: u64, failed: u64, total: u64, live: Live },
    /// The run stopped: every episode finished, or it was cancelled.
    Finished { run: RunId, done: u64, failed: u64, total: u64, cancelled: bool },
    /// The run could not go on (the store failed, say); what is stored stays, and it can resume.
    Failed { run: RunId, error: String },
}

impl RunEvent {
    /// The run it is about.
    pub fn run(&self) -> RunId {
        match self {
            RunEvent::Started { run, .. }
            | RunEvent::Progress { run, .. }
            | RunEvent::Finished { run, .. }
            | RunEvent::Failed { run, .. } => *run,
        }
    }

    /// Whether the run has stopped with it.
    pub fn is_last(&self) -> bool {
        matches!(self, RunEvent::Finished { .. } | RunEvent::Failed { .. })
    }
}

/// What a run is doing right now, measured since this execution began.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Live {
    /// Episodes being worked on.
    pub episodes_in_flight: u64,
    /// Requests waiting for a reply (endpoint providers only).
    pub requests_in_flight: Option<u64>,
    /// Requests allowed in flight now and at most (it adapts under timeouts and 429s).
    pub concurrency: Option<(u64, u64)>,
    /// Requests retried so far.
    pub retries: u64,
    /// Completion tokens per second over the last half minute.
    pub tokens_per_s: Option<f64>,
    /// Seconds since this execution began.
    pub elapsed_secs: u64,
    /// Seconds left at the rate episodes finished so far; `None` before the first one.
    pub eta_secs: Option<u64>,
}

impl Live {
    /// The signs, most telling first: in flight, elapsed (it changes every second, so a slow
    /// run visibly lives), concurrency, tokens/s, ETA, retries.
    pub fn parts(&self) -> Vec<String> {
        let mut parts = Vec::new();
        match self.requests_in_flight {
            Some(r) => parts.push(format!("{r} req in flight")),
            None => parts.push(format!("{} in flight", self.episodes_in_flight)),
        }
        parts.push(duration(self.elapsed_secs));
        if let Some((now, max)) = self.concurrency {
            parts.push(format!("conc {now}/{max}"));
        }
        if let Some(t) = self.tokens_per_s {
            parts.push(format!("{t:.1} tok/s"));
        }
        parts.push(match self.eta_secs {
            Some(s) => format!("eta {}", duration(s)),
            None => "eta —".into(),
        });
        if self.requests_in_flight.is_some() || self.retries > 0 {
            let s = if self.retries == 1 { "y" } else { "ies" };
            parts.push(format!("{} retr{s}", self.retries));
        }
        parts
    }

    /// One line: "2 req in flight · 1m12s · conc 2/4 · 14.2 tok/s · eta 3m05s · 3 retries".
    pub fn line(&self) -> String {
        self.parts().join(" · ")
    }

    /// The line in at most `width` characters, dropping the least telling signs first.
    pub fn fit(&self, width: usize) -> String {
        let mut parts = self.parts();
        loop {
            let line = parts.join(" · ");
            if line.chars().count() <= width || parts.len() <= 1 {
                return line;
            }
            parts.pop();
        }
    }
}

/// 42s, 3m05s, 2h07m.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_line_reads_well() {
        let l = Live {
            episodes_in_flight: 2,
            requests_in_flight: Some(2),
            concurrency: Some((2, 4)),
            retries: 3,
            tokens_per_s: Some(14.25),
            elapsed_secs: 72,
            eta_secs: Some(185),
        };
        assert_eq!(
            l.line(),
            "2 req in flight · 1m12s · conc 2/4 · 14.2 tok/s · eta 3m05s · 3 retries"
        );
        assert_eq!(l.fit(60), "2 req in flight · 1m12s · conc 2/4 · 14.2 tok/s · eta 3m05s");
        assert_eq!(l.fit(30), "2 req in flight · 1m12s");
        assert_eq!(l.fit(5), "2 req in flight");
        let sim = Live { episodes_in_flight: 16, elapsed_secs: 5, ..Live::default() };
        assert_eq!(sim.line(), "16 in flight · 5s · eta —");
        assert_eq!(duration(7260), "2h01m");
    }
}
