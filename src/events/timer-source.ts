import { Cron } from 'croner';
import type { Template } from '../model.js';
import { ManualClock, realClock, type Clock } from '../runtime/clock.js';
import { parseSchedule } from '../template/cron.js';
import { timerEvent } from './builders.js';
import { triggersOfType, type EventDispatcher, type FiredInvocation } from './dispatcher.js';

// Timer triggers: FC's cron dialect (seconds first, Quartz steps) or @every; disabled ones stay
// quiet. Each firing is one invocation with the guide's {triggerTime, triggerName, payload}.

export class TimerSource {
  private stops: (() => void)[] = [];

  constructor(
    private readonly dispatcher: EventDispatcher,
    private readonly current: () => Template,
    private readonly clock: Clock = realClock,
  ) {
    // Set back, a manual clock would otherwise wait for the times armed before.
    if (clock instanceof ManualClock) clock.onJumpBack(() => this.apply(this.current()));
  }

  apply(tpl: Template): void {
    this.close();
    for (const { fn, trigger } of triggersOfType(tpl, 'timer')) {
      if (!trigger.config.enable) continue;
      const fire = () => void this.dispatcher.fire(fn, trigger, timerEvent({ triggerName: trigger.name, payload: trigger.config.payload, time: new Date(this.clock.now()) }));
      const schedule = parseSchedule(trigger.config.cronExpression);
      if (this.clock.manual) {
        this.stops.push(this.onManualClock(schedule, fire));
        continue;
      }
      if (schedule.kind === 'every') {
        const t = setInterval(fire, schedule.intervalMs);
        this.stops.push(() => clearInterval(t));
      } else {
        const job = new Cron(schedule.pattern, { timezone: 'UTC', legacyMode: true, protect: false }, fire);
        this.stops.push(() => job.stop());
      }
    }
  }

  /** On a manual clock: each firing is a timer of that clock, the next one set as it fires. */
  private onManualClock(schedule: ReturnType<typeof parseSchedule>, fire: () => void): () => void {
    const cron = schedule.kind === 'cron' ? new Cron(schedule.pattern, { timezone: 'UTC', legacyMode: true, paused: true }) : undefined;
    let cancel = () => {};
    const arm = () => {
      const now = this.clock.now();
      const next = cron ? cron.nextRun(new Date(now))?.getTime() : schedule.kind === 'every' ? now + schedule.intervalMs : undefined;
      if (next === undefined) return;
      cancel = this.clock.after(next - now, () => {
        arm();
        fire();
      });
    };
    arm();
    return () => {
      cancel();
      cron?.stop();
    };
  }

  /** Fires one timer trigger now (the injection API), enabled or not. */
  async fireNow(service: string, fnName: string, triggerName: string, wait: boolean): Promise<FiredInvocation[] | undefined> {
    const hit = triggersOfType(this.current(), 'timer').find((x) => x.fn.service === service && x.fn.name === fnName && x.trigger.name === triggerName);
    if (!hit) return undefined;
    return [await this.dispatcher.fire(hit.fn, hit.trigger, timerEvent({ triggerName, payload: hit.trigger.config.payload }), wait)];
  }

  close(): void {
    this.stops.forEach((s) => s());
    this.stops = [];
  }
}
