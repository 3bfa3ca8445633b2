#!/usr/bin/env node
// Writes, on stdout, a `pickaxe apply` file for the segment benchmark
// (bench/run-segments.sh): 50 computed traits and 100 segments over the
// vocabulary of px-gen's shop stream (event names, properties, traits), the
// load a retailer's marketing team would define. Deterministic: no
// arguments, no randomness. The mix:
//   computed traits: counts of each tracked event (all time and 30 days),
//     order revenue and ids (sum, avg, min, max, distinct, first, last,
//     windowed), product interest (distinct, most frequent, where price > 50),
//     cart and checkout values, search terms;
//   segments: computed-trait thresholds, inline behaviour (at least / no
//     events in a window, with property predicates), traits (plan, country,
//     city, e-mail domain), profile fields (last_seen, events), and
//     segments over segments.

const EVENTS = ['Product Viewed', 'Product Added', 'Product List Viewed', 'Products Searched', 'Cart Viewed',
  'Checkout Started', 'Order Completed', 'Signed In', 'Newsletter Subscribed', 'Application Opened'];
const CATEGORIES = ['Apparel', 'Home', 'Electronics', 'Grocery', 'Beauty', 'Sports', 'Books', 'Toys'];
const PLANS = ['free', 'basic', 'pro', 'enterprise'];

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '_');
const q = (s) => JSON.stringify(s);

const traits = [];
const ct = (name, fn, event, property, window, where) => {
  const t = { name, function: fn };
  if (event) t.event = event;
  if (property) t.property = property;
  if (where) t.where = where;
  if (window) t.window = window;
  traits.push(t);
};
for (const e of EVENTS) ct(`${slug(e)}_count`, 'count', e);
for (const e of EVENTS) ct(`${slug(e)}_30d`, 'count', e, null, '30d');
ct('revenue', 'sum', 'Order Completed', 'revenue');
ct('avg_order', 'avg', 'Order Completed', 'revenue');
ct('min_order_total', 'min', 'Order Completed', 'total');
ct('max_order_total', 'max', 'Order Completed', 'total');
ct('orders', 'distinct', 'Order Completed', 'order_id');
ct('first_order', 'first', 'Order Completed');
ct('last_order', 'last', 'Order Completed');
ct('revenue_30d', 'sum', 'Order Completed', 'revenue', '30d');
ct('revenue_7d', 'sum', 'Order Completed', 'revenue', '7d');
ct('orders_90d', 'distinct', 'Order Completed', 'order_id', '90d');
ct('products_viewed', 'distinct', 'Product Viewed', 'product_id');
ct('favourite_category', 'most_frequent', 'Product Viewed', 'category');
ct('categories_viewed', 'distinct', 'Product Viewed', 'category');
ct('last_category', 'last', 'Product Viewed', 'category');
ct('first_category', 'first', 'Product Viewed', 'category');
ct('max_price_viewed', 'max', 'Product Viewed', 'price');
ct('avg_price_viewed', 'avg', 'Product Viewed', 'price');
ct('products_viewed_30d', 'distinct', 'Product Viewed', 'product_id', '30d');
ct('favourite_category_30d', 'most_frequent', 'Product Viewed', 'category', '30d');
ct('premium_views', 'count', 'Product Viewed', null, null, 'price > 50');
ct('units_added', 'sum', 'Product Added', 'quantity');
ct('max_units_added', 'max', 'Product Added', 'quantity');
ct('carts', 'distinct', 'Product Added', 'cart_id');
ct('favourite_added_category', 'most_frequent', 'Product Added', 'category');
ct('units_added_14d', 'sum', 'Product Added', 'quantity', '14d');
ct('checkout_value', 'sum', 'Checkout Started', 'value');
ct('avg_checkout_value', 'avg', 'Checkout Started', 'value');
ct('max_checkout_value_30d', 'max', 'Checkout Started', 'value', '30d');
ct('avg_cart_value', 'avg', 'Cart Viewed', 'value');
ct('favourite_search', 'most_frequent', 'Products Searched', 'query');

const segments = [];
const seg = (name, rule) => segments.push({ name, rule });
// Computed-trait thresholds (40).
for (const e of EVENTS) seg(`active_${slug(e)}`, `computed.${slug(e)}_count >= 3`);
for (const e of EVENTS) seg(`recent_${slug(e)}`, `computed.${slug(e)}_30d > 0`);
seg('big_spenders', 'computed.revenue > 500');
seg('high_aov', 'computed.avg_order > 120');
seg('repeat_buyers', 'computed.orders >= 2');
seg('one_time_buyers', 'computed.orders = 1');
seg('bought_30d', 'computed.revenue_30d > 0');
seg('bought_7d', 'computed.revenue_7d > 0');
seg('frequent_90d', 'computed.orders_90d >= 3');
seg('new_buyers', 'computed.first_order after 30 days ago');
seg('lapsed_buyers', 'computed.last_order before 60 days ago');
seg('browsers', 'computed.products_viewed >= 10 and computed.orders is null');
seg('explorers', 'computed.categories_viewed >= 4');
seg('premium_lookers', 'computed.premium_views >= 5');
seg('bulk_adders', 'computed.units_added >= 10 or computed.max_units_added >= 3');
seg('cart_collectors', 'computed.carts >= 3');
seg('big_checkouts', 'computed.max_checkout_value_30d > 200');
seg('abandoners', 'computed.checkout_value > 0 and computed.orders is null');
seg('coffee_searchers', 'computed.favourite_search = "coffee"');
seg('busy_adders_14d', 'computed.units_added_14d >= 5');
seg('pricey_carts', 'computed.avg_cart_value > 150');
seg('window_shoppers_30d', 'computed.products_viewed_30d >= 5 and computed.revenue_30d is null');
// Category interest (16): most frequent, and inline behaviour with a property predicate.
for (const c of CATEGORIES) seg(`fans_${slug(c)}`, `computed.favourite_category = ${q(c)}`);
for (const c of CATEGORIES)
  seg(`into_${slug(c)}_30d`, `at least 2 events "Product Viewed" where category = ${q(c)} in last 30 days`);
// Inline behaviour (20): at least N, absence, sums with predicates.
for (const [i, e] of EVENTS.entries()) seg(`did_${slug(e)}_7d`, `at least ${1 + (i % 3)} events ${q(e)} in last 7 days`);
for (const e of EVENTS) seg(`no_${slug(e)}_60d`, `at least 1 event ${q(e)} and no event ${q(e)} in last 60 days`);
// Traits and profile fields (14).
for (const p of PLANS) seg(`plan_${p}`, `plan = ${q(p)}`);
seg('uk', 'address.country = "GB"');
seg('us_pro', 'address.country = "US" and plan in ["pro", "enterprise"]');
seg('londoners', 'address.city = "London"');
seg('gmail', 'email ends with "@gmail.com"');
seg('with_phone', 'has phone');
seg('b2b', 'company.id is not null');
seg('seen_7d', 'last_seen after 7 days ago');
seg('dormant_30d', 'last_seen before 30 days ago');
seg('heavy_users', 'profile.events >= 50');
seg('new_profiles', 'first_seen after 14 days ago');
// Segments over segments (10).
seg('vip', 'in segment "big_spenders" and in segment "repeat_buyers"');
seg('vip_uk', 'in segment "vip" and in segment "uk"');
seg('win_back', 'in segment "lapsed_buyers" and not in segment "recent_order_completed"');
seg('upsell_free', 'in segment "plan_free" and computed.orders >= 1');
seg('at_risk_vip', 'in segment "vip" and in segment "dormant_30d"');
seg('engaged_no_buy', 'in segment "seen_7d" and in segment "browsers"');
seg('cart_rescue', 'in segment "abandoners" and in segment "seen_7d"');
seg('loyal_books', 'in segment "fans_books" and in segment "repeat_buyers"');
seg('gadget_prospects', 'in segment "into_electronics_30d" and not in segment "bought_30d"');
seg('newsletter_only', 'in segment "active_newsletter_subscribed" and computed.orders is null');

if (traits.length !== 50 || segments.length !== 100)
  throw new Error(`expected 50 computed traits and 100 segments, made ${traits.length} and ${segments.length}`);
process.stdout.write(JSON.stringify({ computed_traits: traits, segments }, null, 1) + '\n');
