//! The live terminal view of `hitstream run --tui`: a small `top` for web traffic.
//!
//! The run loop sends [`UiEvent`]s over a channel; [`spawn`] starts a thread that owns the
//! terminal (alternate screen, raw mode, both restored on exit and on panic), folds the events
//! into a [`ViewState`] and redraws it with [`draw`] on events and about four times a second.
//!
//! - `q`, `Esc` or `Ctrl-C` set the shared `stop` flag: the pipeline shuts down cleanly and
//!   sends [`UiEvent::End`], at which the view exits. A second key press while stopping leaves
//!   the view at once.
//! - [`UiEvent::End`] without a quit key (end of a bounded input, a signal) leaves the final
//!   frame on screen for a second, or until a key is pressed.
//! - A dropped sender counts as [`UiEvent::End`]; a dropped view (the thread returned) makes
//!   sends fail, so the pipeline must ignore send errors.
//! - `↑`/`↓`, `PgUp`/`PgDn`, `Home` scroll the alert list; `Ctrl-L` repaints the screen.
//! - Nothing else may write to the terminal while the view is up (it would scroll the
//!   screen): send notes as [`UiEvent::Message`] instead of printing them.
//!
//! Keys, paths and clients are the log's bytes: control and bidirectional-override characters
//! are shown as `�`, never sent to the terminal.
//!
//! ```ignore
//! let (tx, rx) = crossbeam_channel::unbounded();
//! let ui = tui::spawn(rx, stop.clone())?;
//! // ... in the run loop, ignoring send errors (the view may have gone):
//! let _ = tx.send(tui::UiEvent::Window(w));
//! // ... at the end:
//! let _ = tx.send(tui::UiEvent::End);
//! ui.join().expect("tui thread panicked")?;
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufWriter, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use hitstream_window::{rfc3339, Alert, Quantiles, WindowResult};
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, LineGauge, List, ListItem, Paragraph, Row, Sparkline, Table,
};
use ratatui::{Frame, Terminal};

use crate::output::table::thousands as fmt_count;

/// Windows kept for the chart (by window start); older ones are dropped.
const HISTORY_WINDOWS: usize = 240;
/// Windows shown in the requests chart.
const CHART_WINDOWS: usize = 60;
/// Alerts kept for the list; older ones are dropped (the total still counts them).
const MAX_ALERTS: usize = 500;
/// Redraw at least this often (the header's rates and the clock move).
const TICK: Duration = Duration::from_millis(250);
/// Redraw at most this often, however fast events come.
const MIN_FRAME: Duration = Duration::from_millis(50);
/// How long input is polled for between looks at the channel.
const POLL: Duration = Duration::from_millis(40);
/// Longest time spent applying queued events before drawing again.
const DRAIN_BUDGET: Duration = Duration::from_millis(20);
/// How long the final frame of a finished run stays up.
const LINGER: Duration = Duration::from_secs(1);

/// What the run loop tells the view.
// Unboxed on purpose: a few events a second, and the run loop sends results as they come.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum UiEvent {
    /// A fired window, or an update of one (`revision > 0`) that replaces the earlier result.
    Window(WindowResult),
    /// A fired alert.
    Alert(Alert),
    /// Pipeline counters; each replaces the previous.
    Stats(RunStats),
    /// A line of news for the status bar (source rotated, checkpoint written, …).
    Message(String),
    /// The pipeline has finished: show the last frame and exit.
    End,
}

/// Pipeline counters for the header.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// Lines read.
    pub lines: u64,
    /// Lines parsed cleanly.
    pub ok: u64,
    /// Lines parsed with a recorded oddity.
    pub degraded: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Lines too late for any window.
    pub late: u64,
    /// Current input rate.
    pub lines_per_sec: f64,
    /// The engine's watermark (UTC seconds), once there is one.
    pub watermark: Option<i64>,
    /// What is being read, for the header (`access.log`, `tcp:0.0.0.0:5140`, …).
    pub sources: String,
}

/// The view thread, as returned by [`spawn`]: join it to get the terminal back and the
/// thread's I/O error, if any.
pub type TuiHandle = JoinHandle<io::Result<()>>;

/// Everything the view shows, built from [`UiEvent`]s by [`ViewState::apply`].
#[derive(Debug, Default)]
pub struct ViewState {
    /// The latest counters.
    stats: RunStats,
    /// Latest result of each recent window, by window start.
    windows: BTreeMap<i64, WindowResult>,
    /// Recent alerts, oldest first.
    alerts: VecDeque<Alert>,
    /// Alerts received, including those dropped from `alerts`.
    alerts_total: u64,
    /// The latest [`UiEvent::Message`].
    message: Option<String>,
    /// Newest alerts scrolled past in the alert list.
    alert_scroll: usize,
    /// The `stop` flag is set (by a key here, a signal, or the pipeline's own end); waiting
    /// for [`UiEvent::End`].
    stopping: bool,
    /// The user asked to quit: no lingering at the end, a second request leaves at once.
    quit: bool,
    /// [`UiEvent::End`] arrived, or the sender went away.
    ended: bool,
}

impl ViewState {
    /// Folds one event into the state.
    pub fn apply(&mut self, ev: UiEvent) {
        match ev {
            UiEvent::Window(w) => self.add_window(w),
            UiEvent::Alert(a) => {
                self.alerts.push_back(a);
                self.alerts_total += 1;
                // Keep the alerts the user scrolled to in place.
                if self.alert_scroll > 0 {
                    self.alert_scroll += 1;
                }
                while self.alerts.len() > MAX_ALERTS {
                    self.alerts.pop_front();
                }
                self.clamp_scroll();
            }
            UiEvent::Stats(s) => self.stats = s,
            UiEvent::Message(m) => self.message = Some(m),
            UiEvent::End => self.ended = true,
        }
    }

    fn add_window(&mut self, w: WindowResult) {
        if let Some(old) = self.windows.get(&w.window_start) {
            if old.revision > w.revision {
                return;
            }
        }
        self.windows.insert(w.window_start, w);
        while self.windows.len() > HISTORY_WINDOWS {
            self.windows.pop_first();
        }
    }

    /// The window with the latest start.
    fn latest(&self) -> Option<&WindowResult> {
        self.windows.last_key_value().map(|(_, w)| w)
    }

    /// Requests of the last `n` window slots, oldest first, ending at the latest window.
    /// Slots are one slide apart (the gcd of the window size and the gaps between starts);
    /// windows never emitted (no traffic) count 0.
    fn series(&self, n: usize) -> Vec<u64> {
        let (Some((&first, _)), Some((&last, latest))) = (
            self.windows.first_key_value(),
            self.windows.last_key_value(),
        ) else {
            return Vec::new();
        };
        let mut step = (latest.window_end - latest.window_start).max(0);
        let mut prev = None;
        for &s in self.windows.keys() {
            if let Some(p) = prev {
                step = gcd(step, s.saturating_sub(p));
            }
            prev = Some(s);
        }
        let step = step.max(1);
        let mut out = Vec::with_capacity(n);
        for k in (0..n as i64).rev() {
            let Some(s) = k.checked_mul(step).and_then(|d| last.checked_sub(d)) else {
                continue;
            };
            if s < first {
                continue;
            }
            out.push(self.windows.get(&s).map_or(0, |w| w.requests));
        }
        out
    }

    fn clamp_scroll(&mut self) {
        self.alert_scroll = self.alert_scroll.min(self.alerts.len().saturating_sub(1));
    }

    fn scroll_alerts(&mut self, by: isize) {
        self.alert_scroll = self.alert_scroll.saturating_add_signed(by);
        self.clamp_scroll();
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    i64::try_from(a).unwrap_or(i64::MAX)
}

/// What a key press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyAction {
    Nothing,
    Quit,
    Redraw,
    /// Clear the screen and draw everything again (after stray output to the terminal).
    Repaint,
}

fn on_key(state: &mut ViewState, key: KeyEvent) -> KeyAction {
    match key.code {
        KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc => KeyAction::Quit,
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => KeyAction::Quit,
        KeyCode::Char('l') if key.modifiers.contains(KeyModifiers::CONTROL) => KeyAction::Repaint,
        KeyCode::Down | KeyCode::Char('j') => {
            state.scroll_alerts(1);
            KeyAction::Redraw
        }
        KeyCode::Up | KeyCode::Char('k') => {
            state.scroll_alerts(-1);
            KeyAction::Redraw
        }
        KeyCode::PageDown => {
            state.scroll_alerts(10);
            KeyAction::Redraw
        }
        KeyCode::PageUp => {
            state.scroll_alerts(-10);
            KeyAction::Redraw
        }
        KeyCode::Home => {
            state.alert_scroll = 0;
            KeyAction::Redraw
        }
        _ => KeyAction::Nothing,
    }
}

/// Starts the view on its own thread. Fails at once if stdout is not a terminal or the
/// terminal cannot be set up (and leaves it as it was).
///
/// The thread returns at [`UiEvent::End`] (or when every sender is dropped): at once if the
/// user quit, else a second later or at a key press. It sets `stop` when the user quits; it
/// shows "stopping" when others set it, and keeps drawing until `End`.
pub fn spawn(rx: Receiver<UiEvent>, stop: Arc<AtomicBool>) -> io::Result<TuiHandle> {
    if !io::stdout().is_terminal() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the terminal view (--tui) needs a terminal on stdout",
        ));
    }
    let guard = TerminalGuard::enter()?;
    let mut term = Terminal::new(CrosstermBackend::new(BufWriter::new(io::stdout())))?;
    term.clear()?;
    std::thread::Builder::new()
        .name("hitstream-tui".into())
        .spawn(move || {
            let _guard = guard;
            // Declared after the guard, so dropped (and flushed) before the terminal is restored.
            let mut term = term;
            run(&mut term, &rx, &stop)
        })
}

type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

fn run(term: &mut Term, rx: &Receiver<UiEvent>, stop: &AtomicBool) -> io::Result<()> {
    let mut state = ViewState::default();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut ended_at: Option<Instant> = None;
    loop {
        // Someone else (a panic elsewhere) gave the terminal back: stop drawing.
        if !TERMINAL_ACTIVE.load(Ordering::SeqCst) {
            return Ok(());
        }
        let budget = Instant::now() + DRAIN_BUDGET;
        while !state.ended && Instant::now() < budget {
            match rx.try_recv() {
                Ok(ev) => {
                    state.apply(ev);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    state.apply(UiEvent::End);
                    dirty = true;
                }
            }
        }
        if !state.stopping && stop.load(Ordering::SeqCst) {
            state.stopping = true;
            dirty = true;
        }
        if state.ended && ended_at.is_none() {
            ended_at = Some(Instant::now());
        }

        let since = last_draw.map(|t| t.elapsed());
        if since.is_none_or(|d| d >= TICK || (dirty && d >= MIN_FRAME)) || state.ended {
            term.draw(|f| draw(f, &state))?;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        if let Some(t) = ended_at {
            // After a quit key the user has seen enough; otherwise the last frame lingers.
            if state.quit || t.elapsed() >= LINGER {
                return Ok(());
            }
        }

        let wait = match ended_at {
            Some(t) => LINGER.saturating_sub(t.elapsed()).min(POLL),
            None => POLL,
        };
        if !event::poll(wait)? {
            continue;
        }
        match event::read()? {
            Event::Key(k) if k.kind != KeyEventKind::Release => {
                if ended_at.is_some() {
                    return Ok(());
                }
                match on_key(&mut state, k) {
                    KeyAction::Quit if state.quit => return Ok(()),
                    KeyAction::Quit => {
                        stop.store(true, Ordering::SeqCst);
                        state.quit = true;
                        state.stopping = true;
                        dirty = true;
                    }
                    KeyAction::Redraw => dirty = true,
                    KeyAction::Repaint => {
                        term.clear()?;
                        dirty = true;
                    }
                    KeyAction::Nothing => {}
                }
            }
            Event::Resize(..) => dirty = true,
            _ => {}
        }
    }
}

/// Whether the terminal is in raw mode on the alternate screen.
static TERMINAL_ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// Puts the terminal back when dropped, including while unwinding.
#[derive(Debug)]
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        // Restore before the panic message is printed, so that it lands on the normal screen.
        PANIC_HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore_terminal();
                prev(info);
            }));
        });
        TERMINAL_ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard;
        terminal::enable_raw_mode()?;
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    if TERMINAL_ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
    }
}

// ---------------------------------------------------------------------------------------------
// Drawing

const DIM: Style = Style::new().fg(Color::DarkGray);
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);

/// Draws the whole view. Pure: depends on `state` and the frame size only.
pub fn draw(frame: &mut Frame, state: &ViewState) {
    let [header, chart, middle, alerts, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, state);
    draw_chart(frame, chart, state);
    // The summary and gauges need about 32 columns; the tables share the rest, if any.
    let left_width = if middle.width < 60 {
        middle.width
    } else {
        (middle.width * 34 / 100).clamp(32, 44)
    };
    let [left, pages, clients] = Layout::horizontal([
        Constraint::Length(left_width),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(middle);
    draw_latest(frame, left, state);
    if pages.width > 0 {
        draw_pages(frame, pages, state);
        draw_clients(frame, clients, state);
    }
    draw_alerts(frame, alerts, state);
    draw_footer(frame, footer, state);
}

fn draw_header(frame: &mut Frame, area: Rect, state: &ViewState) {
    let s = &state.stats;
    let (status, color) = if state.ended {
        ("FINISHED", Color::Blue)
    } else if state.stopping {
        ("STOPPING", Color::Yellow)
    } else {
        ("LIVE", Color::Green)
    };
    let sources = if s.sources.is_empty() {
        Cow::Borrowed("-")
    } else {
        clean(&s.sources)
    };
    let watermark = s.watermark.map_or_else(|| "-".to_string(), rfc3339);
    let line1 = Line::from(vec![
        Span::styled(" hitstream ", BOLD.fg(Color::Black).bg(Color::Cyan)),
        Span::raw(" "),
        Span::styled(status, BOLD.fg(color)),
        Span::raw("  "),
        Span::styled(fmt_rate(s.lines_per_sec), BOLD),
        Span::styled(" lines/s", DIM),
        Span::styled("  watermark ", DIM),
        Span::raw(watermark),
        Span::styled("  sources ", DIM),
        Span::raw(sources),
    ]);
    let line2 = Line::from(vec![
        Span::styled(" lines ", DIM),
        Span::styled(fmt_count(s.lines), BOLD),
        Span::styled("  ok ", DIM),
        Span::styled(fmt_count(s.ok), Style::new().fg(Color::Green)),
        Span::styled("  degraded ", DIM),
        Span::styled(fmt_count(s.degraded), Style::new().fg(Color::Yellow)),
        Span::styled("  rejected ", DIM),
        Span::styled(fmt_count(s.rejected), Style::new().fg(Color::Red)),
        Span::styled("  late ", DIM),
        Span::styled(fmt_count(s.late), Style::new().fg(Color::Magenta)),
    ]);
    frame.render_widget(Paragraph::new(vec![line1, line2]), area);
}

fn draw_chart(frame: &mut Frame, area: Rect, state: &ViewState) {
    let inner_width = usize::from(area.width.saturating_sub(2));
    let slots = CHART_WINDOWS.min(inner_width);
    let data = state.series(slots);
    let mut title = vec![Span::styled(" Requests per window", BOLD)];
    if let Some(w) = state.latest() {
        title.push(Span::styled(
            format!(" · {} windows", fmt_span(w.window_end - w.window_start)),
            DIM,
        ));
        title.push(Span::styled(format!(" · last {} · max ", data.len()), DIM));
        title.push(Span::raw(fmt_count(
            data.iter().copied().max().unwrap_or(0),
        )));
        title.push(Span::styled(" · latest ", DIM));
        title.push(Span::raw(fmt_count(w.requests)));
    }
    title.push(Span::raw(" "));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(title));
    // Stretch each window over several columns when there is room.
    let repeat = if data.is_empty() {
        1
    } else {
        (inner_width / data.len()).max(1)
    };
    let bars: Vec<u64> = data
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, repeat))
        .collect();
    let spark = Sparkline::default()
        .block(block)
        .data(bars)
        .style(Style::new().fg(Color::Cyan));
    frame.render_widget(spark, area);
}

fn draw_latest(frame: &mut Frame, area: Rect, state: &ViewState) {
    let Some(w) = state.latest() else {
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Span::styled(" Latest window ", BOLD));
        let p = Paragraph::new(Line::styled(" waiting for the first window…", DIM)).block(block);
        frame.render_widget(p, area);
        return;
    };
    let mut title = vec![
        Span::styled(" Window ", BOLD),
        Span::raw(format!(
            "{}–{} ",
            time_of_day(w.window_start),
            time_of_day(w.window_end)
        )),
    ];
    if w.revision > 0 {
        title.push(Span::styled(
            format!("rev {} ", w.revision),
            Style::new().fg(Color::Yellow),
        ));
    }
    title.push(Span::styled(
        format!("{} UTC ", w.window_start_rfc3339.get(..10).unwrap_or("")),
        DIM,
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let [text, gauges] =
        Layout::vertical([Constraint::Length(5), Constraint::Length(4)]).areas(inner);
    let kv = |k: &'static str, v: String| [Span::styled(k, DIM), Span::raw(v)];
    let lines = vec![
        Line::from(
            [
                kv(" requests ", fmt_count(w.requests)),
                kv("  404 ", fmt_count(w.not_found)),
            ]
            .concat(),
        ),
        Line::from(Vec::from(kv(
            " unique clients ",
            fmt_count(w.unique_clients),
        ))),
        Line::from(Vec::from(kv(" bytes ", fmt_bytes(w.bytes)))),
        Line::from(
            [
                kv(" size p50 ", fmt_q(&w.size, |q| q.p50, fmt_bytes)),
                kv("  p99 ", fmt_q(&w.size, |q| q.p99, fmt_bytes)),
            ]
            .concat(),
        ),
        Line::from(
            [
                kv(" time p50 ", fmt_q(&w.request_time_us, |q| q.p50, fmt_us)),
                kv("  p99 ", fmt_q(&w.request_time_us, |q| q.p99, fmt_us)),
            ]
            .concat(),
        ),
    ];
    frame.render_widget(Paragraph::new(lines), text);

    let c = &w.status_classes;
    let classes = [
        ("2xx", c.success, Color::Green),
        ("3xx", c.redirection, Color::Cyan),
        ("4xx", c.client_error, Color::Yellow),
        ("5xx", c.server_error, Color::Red),
    ];
    let rows = Layout::vertical([Constraint::Length(1); 4]).areas::<4>(gauges);
    for ((name, count, color), row) in classes.into_iter().zip(rows) {
        let ratio = if w.requests == 0 {
            0.0
        } else {
            (count as f64 / w.requests as f64).clamp(0.0, 1.0)
        };
        let label = Line::from(vec![
            Span::styled(format!(" {name} "), Style::new().fg(color)),
            Span::raw(format!("{:>9} {:>5.1}%", fmt_count(count), ratio * 100.0)),
        ]);
        let gauge = LineGauge::default()
            .label(label)
            .ratio(ratio)
            .line_set(symbols::line::THICK)
            .filled_style(Style::new().fg(color))
            .unfilled_style(DIM);
        frame.render_widget(gauge, row);
    }
}

fn draw_pages(frame: &mut Frame, area: Rect, state: &ViewState) {
    let rows: Vec<Row> = state
        .latest()
        .map(|w| {
            w.top_pages
                .iter()
                .map(|p| {
                    Row::new([
                        Line::from(fmt_count(p.count)).right_aligned(),
                        Line::from(clean(&p.key).into_owned()),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    let table = Table::new(rows, [Constraint::Length(9), Constraint::Fill(1)])
        .header(Row::new([Line::from("hits").right_aligned(), Line::from("page")]).style(DIM))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Top pages ", BOLD)),
        );
    frame.render_widget(table, area);
}

fn draw_clients(frame: &mut Frame, area: Rect, state: &ViewState) {
    // Bytes only when the client names keep room.
    let with_bytes = area.width >= 36;
    let rows: Vec<Row> = state
        .latest()
        .map(|w| {
            w.top_clients
                .iter()
                .map(|c| {
                    let mut cells = vec![Line::from(fmt_count(c.requests)).right_aligned()];
                    if with_bytes {
                        cells.push(Line::from(fmt_bytes(c.bytes)).right_aligned());
                    }
                    cells.push(Line::from(clean(&c.client).into_owned()));
                    Row::new(cells)
                })
                .collect()
        })
        .unwrap_or_default();
    let (header, widths) = if with_bytes {
        (
            Row::new([
                Line::from("reqs").right_aligned(),
                Line::from("bytes").right_aligned(),
                Line::from("client"),
            ]),
            vec![
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Fill(1),
            ],
        )
    } else {
        (
            Row::new([Line::from("reqs").right_aligned(), Line::from("client")]),
            vec![Constraint::Length(8), Constraint::Fill(1)],
        )
    };
    let table = Table::new(rows, widths).header(header.style(DIM)).block(
        Block::default()
            .borders(Borders::ALL)
            .title(Span::styled(" Top clients ", BOLD)),
    );
    frame.render_widget(table, area);
}

fn draw_alerts(frame: &mut Frame, area: Rect, state: &ViewState) {
    let mut title = vec![
        Span::styled(" Alerts ", BOLD),
        Span::styled(format!("({} total", fmt_count(state.alerts_total)), DIM),
    ];
    if state.alert_scroll > 0 {
        title.push(Span::styled(
            format!(", {} newer above", state.alert_scroll),
            DIM,
        ));
    }
    title.push(Span::styled(") ", DIM));
    let items: Vec<ListItem> = state
        .alerts
        .iter()
        .rev()
        .skip(state.alert_scroll)
        .map(|a| ListItem::new(alert_line(a)))
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(title));
    if items.is_empty() {
        let p = Paragraph::new(Line::styled(" no alerts", DIM)).block(block);
        frame.render_widget(p, area);
    } else {
        frame.render_widget(List::new(items).block(block), area);
    }
}

fn alert_line(a: &Alert) -> Line<'static> {
    let color = match a.kind.as_str() {
        "server_error_ratio" | "traffic_spike" => Color::Red,
        _ => Color::Yellow,
    };
    let (observed, threshold) = if a.kind == "server_error_ratio" {
        (
            format!("{:.1}%", a.observed * 100.0),
            format!("{:.1}%", a.threshold * 100.0),
        )
    } else {
        (fmt_num(a.observed), fmt_num(a.threshold))
    };
    let mut spans = vec![
        Span::raw(" "),
        Span::styled(clean(&a.rule).into_owned(), BOLD.fg(color)),
        Span::raw(" "),
        Span::raw(clean(&a.key).into_owned()),
        Span::raw(" "),
        Span::styled(observed, BOLD),
        Span::styled(" > ", DIM),
        Span::raw(threshold),
        Span::styled("  window ", DIM),
        Span::raw(format!(
            "{}..{}",
            a.window_start_rfc3339,
            time_of_day(a.window_end)
        )),
    ];
    if a.revision > 0 {
        spans.push(Span::styled(format!(" rev {}", a.revision), DIM));
    }
    Line::from(spans)
}

fn draw_footer(frame: &mut Frame, area: Rect, state: &ViewState) {
    let mut spans = Vec::new();
    if state.ended && state.quit {
        spans.push(Span::styled(" stopped ", BOLD.fg(Color::Blue)));
    } else if state.ended {
        spans.push(Span::styled(
            " finished — press any key to exit ",
            BOLD.fg(Color::Blue),
        ));
    } else if state.stopping {
        spans.push(Span::styled(
            " stopping — waiting for the pipeline to finish ",
            BOLD.fg(Color::Yellow),
        ));
        if state.quit {
            spans.push(Span::styled("(q again to leave) ", DIM));
        }
    } else {
        spans.push(Span::styled(" q", BOLD));
        spans.push(Span::styled(" quit  ", DIM));
        spans.push(Span::styled("↑↓", BOLD));
        spans.push(Span::styled(" scroll alerts ", DIM));
    }
    if let Some(m) = &state.message {
        spans.push(Span::styled("│ ", DIM));
        spans.push(Span::raw(clean(m).into_owned()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// Text from the log made safe to show: control and bidirectional-override characters
/// become `�` (the one escaping of every terminal output, [`crate::output::clean`]).
fn clean(s: &str) -> Cow<'_, str> {
    crate::output::clean(s)
}

fn fmt_rate(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        "0".into()
    } else if r < 10.0 {
        format!("{r:.1}")
    } else {
        fmt_count(r.round() as u64)
    }
}

/// A count or threshold: whole numbers without decimals.
fn fmt_num(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

fn fmt_us(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

fn fmt_q(q: &Quantiles, pick: fn(&Quantiles) -> Option<u64>, fmt: fn(u64) -> String) -> String {
    pick(q).map_or_else(|| "-".to_string(), fmt)
}

/// A window length: `60s`, `5m`, `1h`, `90s`.
fn fmt_span(secs: i64) -> String {
    if secs > 0 && secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// `HH:MM:SSZ` of UTC seconds.
fn time_of_day(secs: i64) -> String {
    let s = rfc3339(secs);
    s.get(11..).unwrap_or(&s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitstream_window::{ClientCount, KeyCount, StatusClasses};
    use ratatui::backend::TestBackend;

    const T0: i64 = 804_571_200; // 1995-07-01T04:00:00Z

    fn window(start: i64, requests: u64) -> WindowResult {
        WindowResult {
            window_start: start,
            window_end: start + 60,
            window_start_rfc3339: rfc3339(start),
            window_end_rfc3339: rfc3339(start + 60),
            revision: 0,
            update: false,
            watermark: start + 60,
            requests,
            bytes: requests * 2048,
            status: Vec::new(),
            status_classes: StatusClasses {
                success: requests * 7 / 10,
                redirection: requests / 10,
                client_error: requests / 10,
                server_error: requests - requests * 7 / 10 - 2 * (requests / 10),
                ..StatusClasses::default()
            },
            methods: vec![KeyCount {
                key: "GET".into(),
                count: requests,
            }],
            not_found: requests / 10,
            server_errors: 0,
            top_pages: vec![
                KeyCount {
                    key: "/shuttle/countdown/".into(),
                    count: requests / 2,
                },
                KeyCount {
                    key: "/images/NASA-logosmall.gif".into(),
                    count: requests / 4,
                },
            ],
            top_clients: vec![ClientCount {
                client: "piweba3y.prodigy.com".into(),
                requests: requests / 3,
                bytes: 123_456,
            }],
            top_error_endpoints: Vec::new(),
            unique_clients: 42,
            size: Quantiles {
                count: requests,
                min: Some(10),
                p50: Some(1500),
                p90: Some(4000),
                p99: Some(90_000),
                max: Some(100_000),
                mean: Some(2048.0),
            },
            request_time_us: Quantiles::default(),
            late_total: 0,
        }
    }

    fn alert(rule: &str, kind: &str, key: &str, observed: f64, threshold: f64) -> Alert {
        Alert {
            rule: rule.into(),
            kind: kind.into(),
            key: key.into(),
            observed,
            threshold,
            window_start: T0,
            window_end: T0 + 60,
            window_start_rfc3339: rfc3339(T0),
            window_end_rfc3339: rfc3339(T0 + 60),
            revision: 0,
            explanation: String::new(),
            samples: Vec::new(),
        }
    }

    fn render(state: &ViewState, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| draw(f, state)).unwrap();
        let buf = term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn busy_state() -> ViewState {
        let mut s = ViewState::default();
        s.apply(UiEvent::Stats(RunStats {
            lines: 1_234_567,
            ok: 1_230_000,
            degraded: 4_000,
            rejected: 567,
            late: 12,
            lines_per_sec: 25_000.4,
            watermark: Some(T0 + 130),
            sources: "access.log".into(),
        }));
        for i in 0..70 {
            s.apply(UiEvent::Window(window(T0 + 60 * i, 100 + i as u64)));
        }
        s.apply(UiEvent::Alert(alert(
            "client_rate",
            "client_rate",
            "10.0.0.7",
            312.0,
            100.0,
        )));
        s.apply(UiEvent::Alert(alert(
            "server_error_ratio",
            "server_error_ratio",
            "*",
            0.25,
            0.1,
        )));
        s.apply(UiEvent::Message("tailing access.log".into()));
        s
    }

    #[test]
    fn renders_counts_pages_clients_and_alerts() {
        let s = busy_state();
        let text = render(&s, 160, 30);
        // Header.
        assert!(text.contains("access.log"), "{text}");
        assert!(text.contains("1,234,567"), "{text}");
        assert!(text.contains("25,000 lines/s"), "{text}");
        assert!(text.contains("rejected 567"), "{text}");
        assert!(text.contains("watermark 1995-07-01T04:02:10Z"), "{text}");
        // Latest window: 169 requests, start 05:09, its clock named.
        assert!(
            text.contains("Window 05:09:00Z–05:10:00Z 1995-07-01 UTC"),
            "{text}"
        );
        assert!(text.contains("requests 169"), "{text}");
        assert!(text.contains("latest 169"), "{text}");
        assert!(text.contains("unique clients 42"), "{text}");
        assert!(text.contains("size p50 1.5 KiB  p99 88 KiB"), "{text}");
        assert!(text.contains("time p50 -  p99 -"), "{text}");
        assert!(text.contains("2xx"), "{text}");
        assert!(text.contains("5xx"), "{text}");
        // Top tables.
        assert!(text.contains("/shuttle/countdown/"), "{text}");
        assert!(text.contains(" 84 /shuttle/countdown/"), "{text}");
        assert!(text.contains("/images/NASA-logosmall.gif"), "{text}");
        assert!(text.contains("piweba3y.prodigy.com"), "{text}");
        // Alerts, newest first.
        let rate =
            text.find("client_rate 10.0.0.7 312 > 100  window 1995-07-01T04:00:00Z..04:01:00Z");
        let ratio = text.find("server_error_ratio * 25.0% > 10.0%");
        assert!(rate.is_some() && ratio.is_some(), "{text}");
        assert!(ratio < rate, "{text}");
        assert!(text.contains("(2 total)"), "{text}");
        assert!(text.contains("tailing access.log"), "{text}");
    }

    #[test]
    fn updates_replace_the_window() {
        let mut s = ViewState::default();
        s.apply(UiEvent::Window(window(T0, 10)));
        s.apply(UiEvent::Window(window(T0 + 60, 20)));
        let mut upd = window(T0 + 60, 25);
        upd.revision = 1;
        upd.update = true;
        s.apply(UiEvent::Window(upd));
        // A stale revision arriving late does not undo the update.
        s.apply(UiEvent::Window(window(T0 + 60, 20)));
        assert_eq!(s.windows.len(), 2);
        assert_eq!(s.latest().unwrap().requests, 25);
        assert_eq!(s.series(60), vec![10, 25]);
        let text = render(&s, 120, 30);
        assert!(text.contains("requests 25"), "{text}");
        assert!(text.contains("rev 1"), "{text}");
        // An update of an older window keeps the latest on display.
        let mut old = window(T0, 11);
        old.revision = 1;
        s.apply(UiEvent::Window(old));
        assert_eq!(s.latest().unwrap().requests, 25);
        assert_eq!(s.series(60), vec![11, 25]);
    }

    #[test]
    fn series_fills_gaps_and_keeps_history_bounded() {
        let mut s = ViewState::default();
        s.apply(UiEvent::Window(window(T0, 5)));
        s.apply(UiEvent::Window(window(T0 + 180, 7)));
        assert_eq!(s.series(60), vec![5, 0, 0, 7]);
        assert_eq!(s.series(2), vec![0, 7]);
        assert_eq!(s.series(0), Vec::<u64>::new());
        // Sliding windows: 60 s long, 10 s apart.
        let mut s = ViewState::default();
        for i in [0, 1, 3] {
            s.apply(UiEvent::Window(window(T0 + 10 * i, i as u64 + 1)));
        }
        assert_eq!(s.series(60), vec![1, 2, 0, 4]);
        let mut s = ViewState::default();
        for i in 0..(HISTORY_WINDOWS as i64 + 50) {
            s.apply(UiEvent::Window(window(T0 + 60 * i, 1)));
        }
        assert_eq!(s.windows.len(), HISTORY_WINDOWS);
        assert_eq!(s.series(CHART_WINDOWS).len(), CHART_WINDOWS);
    }

    #[test]
    fn empty_state_renders() {
        let s = ViewState::default();
        let text = render(&s, 100, 30);
        assert!(text.contains("waiting for the first window"), "{text}");
        assert!(text.contains("no alerts"), "{text}");
        assert!(text.contains("LIVE"), "{text}");
    }

    #[test]
    fn small_and_odd_sizes_do_not_panic() {
        let busy = busy_state();
        let empty = ViewState::default();
        let text = render(&busy, 40, 12);
        assert!(text.contains("hitstream"), "{text}");
        for (w, h) in [
            (40, 12),
            (1, 1),
            (2, 30),
            (300, 3),
            (10, 5),
            (80, 24),
            (500, 200),
        ] {
            render(&busy, w, h);
            render(&empty, w, h);
        }
    }

    #[test]
    fn zero_request_window_and_odd_values() {
        let mut s = ViewState::default();
        let mut w = window(T0, 0);
        // Inconsistent counts must not push a gauge past 100 %.
        w.status_classes.success = 5;
        w.top_pages.push(KeyCount {
            key: "/evil\u{1b}[2J\u{202E}".into(),
            count: 1,
        });
        s.apply(UiEvent::Window(w));
        let mut w = window(T0 + 60, 3);
        w.status_classes.server_error = 10;
        s.apply(UiEvent::Window(w));
        s.apply(UiEvent::Stats(RunStats {
            lines_per_sec: f64::NAN,
            ..RunStats::default()
        }));
        s.apply(UiEvent::Alert(alert(
            "spike",
            "traffic_spike",
            "*",
            f64::INFINITY,
            f64::NAN,
        )));
        render(&s, 80, 24);
        let text = render(&s, 120, 30);
        assert!(!text.contains('\u{1b}'));
        assert_eq!(clean("/evil\u{1b}[2J\u{202E}"), "/evil\u{FFFD}[2J\u{FFFD}");
        assert!(matches!(clean("/plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn alerts_scroll_and_are_bounded() {
        let mut s = ViewState::default();
        for i in 0..(MAX_ALERTS + 5) {
            s.apply(UiEvent::Alert(alert(
                "client_rate",
                "client_rate",
                &format!("c{i}"),
                1.0,
                0.0,
            )));
        }
        assert_eq!(s.alerts.len(), MAX_ALERTS);
        assert_eq!(s.alerts_total, MAX_ALERTS as u64 + 5);
        let down = KeyEvent::new(KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(on_key(&mut s, down), KeyAction::Redraw);
        assert_eq!(s.alert_scroll, 1);
        // A new alert keeps the scrolled view in place.
        s.apply(UiEvent::Alert(alert(
            "client_rate",
            "client_rate",
            "new",
            1.0,
            0.0,
        )));
        assert_eq!(s.alert_scroll, 2);
        let text = render(&s, 100, 30);
        assert!(text.contains(&format!("c{} ", MAX_ALERTS + 3)), "{text}");
        assert!(!text.contains("new 1"), "{text}");
        on_key(&mut s, KeyEvent::new(KeyCode::Home, KeyModifiers::NONE));
        assert_eq!(s.alert_scroll, 0);
        on_key(&mut s, KeyEvent::new(KeyCode::Up, KeyModifiers::NONE));
        assert_eq!(s.alert_scroll, 0);
        for _ in 0..100 {
            on_key(&mut s, KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
        }
        assert_eq!(s.alert_scroll, MAX_ALERTS - 1);
    }

    #[test]
    fn quit_keys() {
        let mut s = ViewState::default();
        for k in [
            KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE),
            KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
        ] {
            assert_eq!(on_key(&mut s, k), KeyAction::Quit);
        }
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(on_key(&mut s, c), KeyAction::Nothing);
        let l = KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL);
        assert_eq!(on_key(&mut s, l), KeyAction::Repaint);
    }

    #[test]
    fn end_and_stopping_show_in_footer() {
        let mut s = ViewState {
            stopping: true,
            quit: true,
            ..ViewState::default()
        };
        assert!(render(&s, 100, 24).contains("stopping"));
        s.apply(UiEvent::End);
        assert!(s.ended);
        let text = render(&s, 100, 24);
        assert!(
            text.contains("FINISHED") && text.contains(" stopped "),
            "{text}"
        );
        // The end of a bounded input: the pipeline sets `stop` itself, nobody quit.
        let mut s = ViewState {
            stopping: true,
            ..ViewState::default()
        };
        let text = render(&s, 100, 24);
        assert!(
            text.contains("STOPPING") && !text.contains("q again"),
            "{text}"
        );
        s.apply(UiEvent::End);
        let text = render(&s, 100, 24);
        assert!(
            text.contains("FINISHED") && text.contains("press any key"),
            "{text}"
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1000), "1,000");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_count(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(u64::MAX), "16384 PiB");
        assert_eq!(fmt_us(850), "850 µs");
        assert_eq!(fmt_us(12_345), "12.3 ms");
        assert_eq!(fmt_us(1_500_000), "1.50 s");
        assert_eq!(fmt_span(60), "1m");
        assert_eq!(fmt_span(90), "90s");
        assert_eq!(fmt_span(7200), "2h");
        assert_eq!(fmt_num(100.0), "100");
        assert_eq!(fmt_num(37.5), "37.5");
        assert_eq!(fmt_rate(3.27), "3.3");
        assert_eq!(fmt_rate(-1.0), "0");
        assert_eq!(time_of_day(T0 + 61), "04:01:01Z");
        assert_eq!(gcd(60, 0), 60);
        assert_eq!(gcd(0, 0), 0);
        assert_eq!(gcd(-20, 30), 10);
    }
}
