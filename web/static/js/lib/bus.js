// The page's scripts tell each other what happened through topics, not
// window globals: the talk page's poller publishes 'talk', the chat panel
// 'slide' (the presenter's page), the slides panel 'slides' (its API), and
// the chat replay asks the live panel to stop with 'chat-close'. A
// subscriber also hears the topic's last value at once, so the order in
// which modules run does not matter.

const last = new Map();
const subscribers = new Map();

// publish sends value to the topic's subscribers and keeps it as the last.
export function publish(topic, value) {
  last.set(topic, value);
  for (const fn of subscribers.get(topic) || []) fn(value);
}

// subscribe calls fn with every value published on topic, starting with the
// last one if there was any.
export function subscribe(topic, fn) {
  if (!subscribers.has(topic)) subscribers.set(topic, []);
  subscribers.get(topic).push(fn);
  if (last.has(topic)) fn(last.get(topic));
}
