import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { DeployScheduler } from "./schedule.ts";

/** Whether `promise` has settled once the queued callbacks have run. */
async function isDone(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("scheduler: nothing pending, every step starts at once", async () => {
  const scheduler = new DeployScheduler({ maxActivations: 2 });
  assert(await isDone(scheduler.admit("a", "start")));
  assert(await isDone(scheduler.admit("a", "activate")));
  assert(await isDone(scheduler.admit("b", "activate")));
  assertEquals(scheduler.waiting, 0);
});

Deno.test("scheduler: while a host waits for its confirmation, no other host starts a copy or an activation", async () => {
  const scheduler = new DeployScheduler({ maxActivations: 4 });
  await scheduler.admit("a", "activate");
  scheduler.windowOpened("a", 60);
  const copy = scheduler.admit("b", "start");
  const activation = scheduler.admit("c", "activate");
  assert(!(await isDone(copy)), "b's copy waits for a's confirmation");
  assert(!(await isDone(activation)), "c's activation waits for a's confirmation");
  assertEquals(scheduler.waiting, 2);
  // The host's own steps are never held back by its own window.
  assert(await isDone(scheduler.admit("a", "start")));
  scheduler.settled("a");
  assert(await isDone(copy));
  assert(await isDone(activation));
  assertEquals(scheduler.waiting, 0);
});

Deno.test("scheduler: two open windows hold others until both hosts have their answer", async () => {
  const scheduler = new DeployScheduler({ maxActivations: 4 });
  scheduler.windowOpened("a", 60);
  scheduler.windowOpened("b", 60);
  const copy = scheduler.admit("c", "start");
  scheduler.settled("a");
  assert(!(await isDone(copy)), "b still waits for its confirmation");
  scheduler.settled("b");
  assert(await isDone(copy));
});

Deno.test("scheduler: at most maxActivations hosts between activation and answer; a copy passes a blocked activation", async () => {
  const scheduler = new DeployScheduler({ maxActivations: 1 });
  await scheduler.admit("a", "activate");
  const second = scheduler.admit("b", "activate");
  assert(!(await isDone(second)), "b waits for an activation permit");
  assert(await isDone(scheduler.admit("c", "start")), "c's copy needs no permit");
  scheduler.settled("a");
  assert(await isDone(second));
  const third = scheduler.admit("c", "activate");
  assert(!(await isDone(third)));
  scheduler.settled("b");
  assert(await isDone(third));
});

Deno.test("scheduler: a host whose window has passed no longer holds the others", async () => {
  const scheduler = new DeployScheduler({ maxActivations: 4 });
  scheduler.windowOpened("frozen", 0.05);
  const copy = scheduler.admit("b", "start");
  assert(!(await isDone(copy)));
  // Resolves when the window's timer fires; a test timeout would be the failure.
  await copy;
  assertEquals(scheduler.awaitingConfirmation, 0);
  scheduler.settled("frozen");
});

Deno.test("scheduler: says why a step would wait", async () => {
  const scheduler = new DeployScheduler({ maxActivations: 1 });
  assertEquals(scheduler.waitReason("a", "activate"), undefined);
  await scheduler.admit("a", "activate");
  assertEquals(scheduler.waitReason("b", "activate"), "activation slot");
  assertEquals(scheduler.waitReason("b", "start"), undefined);
  scheduler.windowOpened("a", 60);
  assertEquals(scheduler.waitReason("b", "start"), "confirmations first");
  assertEquals(scheduler.waitReason("a", "start"), undefined);
  scheduler.settled("a");
  assertEquals(scheduler.waitReason("b", "activate"), undefined);
});

Deno.test("scheduler: a bound below 1 is refused", () => {
  const error = assertThrows(() => new DeployScheduler({ maxActivations: 0 }));
  assert(error instanceof RangeError);
});
