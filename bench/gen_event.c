#include "gen_event.h"

#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- time ---------------------------------------------------------------- */

int64_t px_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void px_iso8601(int64_t ms, char out[25]) {
  int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  int64_t rem = ms - days * 86400000;
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  char tmp[64]; /* roomy: the compiler cannot see that every field fits */
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d, (int)(rem / 3600000),
           (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
  memcpy(out, tmp, 24);
  out[24] = '\0';
}

/* ---- catalog ------------------------------------------------------------- */

static const char *const categories[] = {"Apparel", "Home",   "Electronics", "Grocery",
                                         "Beauty",  "Sports", "Books",       "Toys"};
static const char *const nouns[][3] = {
    {"Shirt", "Jacket", "Sneakers"},           {"Lamp", "Mug", "Blanket"},
    {"Headphones", "Charger", "Speaker"},      {"Coffee Beans", "Olive Oil", "Sausages"},
    {"Face Cream", "Shampoo", "Lip Balm"},     {"Yoga Mat", "Water Bottle", "Running Socks"},
    {"Novel", "Cookbook", "Atlas"},            {"Puzzle", "Building Set", "Plush Bear"}};
static const char *const adjectives[] = {"Classic", "Organic", "Deluxe", "Compact", "Vintage", "Smart",
                                         "Eco", "Premium", "Everyday", "Limited Edition", "Blue", "Red"};
static const char *const brands[] = {"Northfield", "Brightside", "Oak & Ivy", "Kestrel", "Lumen", "Tidewater"};

static void put_money(px_sbuf *b, uint64_t cents) {
  px_sbuf_u64(b, cents / 100);
  char frac[4] = {'.', (char)('0' + cents / 10 % 10), (char)('0' + cents % 10), 0};
  px_sbuf_puts(b, frac);
}

static uint64_t product_cents(uint64_t i) {
  /* log-uniform-ish between 2.99 and ~500, always ending in .99 */
  uint64_t h = px_mix64(i ^ 0x5eedULL);
  uint64_t dollars = 2 + (h % 1000) * (h % 1000) / 2000 + (h >> 32) % 7;
  return dollars * 100 + 99;
}

/* "product_id":..,"sku":..,"name":..,"category":..,"brand":..,"price":.. */
static void put_product(px_sbuf *b, uint64_t i) {
  size_t cat = i % COUNT(categories);
  char name[80];
  snprintf(name, sizeof name, "%s %s", adjectives[(i / 24) % COUNT(adjectives)],
           nouns[cat][(i / COUNT(categories)) % 3]);
  px_sbuf_fmt(b, "\"product_id\":\"P%05llu\",\"sku\":\"SKU-%05llu\",\"name\":", (unsigned long long)i,
              (unsigned long long)i);
  px_sbuf_json_str(b, name);
  px_sbuf_fmt(b, ",\"category\":\"%s\",\"brand\":", categories[cat]);
  px_sbuf_json_str(b, brands[px_mix64(i) % COUNT(brands)]);
  px_sbuf_puts(b, ",\"price\":");
  put_money(b, product_cents(i));
}

/* ---- one visit ----------------------------------------------------------- */

typedef struct sess {
  px_gen *g;
  const px_person *p;
  uint8_t *state;
  px_sbuf *out;
  int device, mobile, linked, uid_at;
  size_t count;
  int64_t t;
  char anon[37];
  char last_url[128];
  uint64_t cart_id;
  uint64_t cart[4], qty[4];
  int ncart;
} sess;

static px_rng *R(sess *s) { return &s->g->rng; }

const char *px_gen_type_name(int type) {
  static const char *const names[PX_EV_TYPES] = {"identify", "track", "page", "screen", "group", "alias"};
  return type >= 0 && type < PX_EV_TYPES ? names[type] : "?";
}

static void begin(sess *s, int type) {
  px_sbuf *b = s->out;
  s->t += 1000 + (int64_t)px_rng_below(R(s), 40000) + (int64_t)px_rng_below(R(s), 20000);
  char ts[25], mid[37];
  px_iso8601(s->t, ts);
  uint64_t h = px_mix64(s->g->seed ^ 0x6d657373616765ULL) + s->g->next_msg++;
  px_uuid_format(px_mix64(h), px_mix64(h ^ 0xfeedULL), mid); /* px_mix64 is one-to-one: unique ids */
  px_sbuf_fmt(b, "{\"type\":\"%s\",\"messageId\":\"%s\",\"timestamp\":\"%s\",\"anonymousId\":\"%s\"",
              px_gen_type_name(type), mid, ts, s->anon);
  if (s->linked) {
    px_sbuf_puts(b, ",\"userId\":");
    px_sbuf_json_str(b, s->p->user_id);
    if (s->uid_at < 0) s->uid_at = (int)s->count;
  }
  s->g->rendered[type]++;
}

static void end(sess *s) {
  px_sbuf *b = s->out;
  uint64_t h = px_mix64(s->g->seed ^ (s->p->idx * 8 + (uint64_t)s->device));
  const char *locale = s->p->uk ? "en-GB" : "en-US";
  const char *tz = s->p->uk ? "Europe/London" : "America/New_York";
  unsigned ip3 = (unsigned)(h % 254) + 1;
  if (s->mobile) {
    int ios = (h >> 8) & 1;
    static const char *const iphones[] = {"iPhone14,2", "iPhone15,3", "iPhone13,1"};
    static const char *const androids[] = {"Pixel 8", "SM-S918B", "moto g54"};
    px_sbuf_fmt(b,
                ",\"context\":{\"library\":{\"name\":\"%s\",\"version\":\"%s\"},"
                "\"app\":{\"name\":\"Pickaxe Shop\",\"version\":\"3.%u.0\",\"build\":\"3%u0\"},"
                "\"device\":{\"manufacturer\":\"%s\",\"model\":\"%s\",\"type\":\"%s\"},"
                "\"os\":{\"name\":\"%s\",\"version\":\"%s\"},\"ip\":\"198.51.100.%u\","
                "\"locale\":\"%s\",\"timezone\":\"%s\"}}\n",
                ios ? "analytics-ios" : "analytics-android", ios ? "4.1.8" : "4.10.4", (unsigned)(h >> 16) % 9,
                (unsigned)(h >> 16) % 9, ios ? "Apple" : "Google",
                ios ? iphones[(h >> 20) % 3] : androids[(h >> 20) % 3],
                ios ? "ios" : "android", ios ? "iOS" : "Android", ios ? "17.2" : "14", ip3, locale, tz);
  } else {
    static const char *const agents[] = {
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.2 Safari/605.1.15",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"};
    px_sbuf_fmt(b, ",\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"4.1.0\"},"
                   "\"ip\":\"203.0.113.%u\",",
                ip3);
    px_sbuf_puts(b, "\"userAgent\":");
    px_sbuf_json_str(b, agents[(h >> 8) % COUNT(agents)]);
    px_sbuf_fmt(b, ",\"locale\":\"%s\",\"timezone\":\"%s\"}}\n", locale, tz);
  }
  s->count++;
}

static void page(sess *s, const char *name, const char *path) {
  static const char *const referrers[] = {"https://www.google.com/", "", "https://www.facebook.com/",
                                          "https://news.example.org/deals", "https://t.co/x1y2z3"};
  begin(s, s->mobile ? PX_EV_SCREEN : PX_EV_PAGE);
  px_sbuf *b = s->out;
  px_sbuf_puts(b, ",\"name\":");
  px_sbuf_json_str(b, name);
  if (s->mobile) {
    px_sbuf_puts(b, ",\"properties\":{\"name\":");
    px_sbuf_json_str(b, name);
  } else {
    char url[128];
    snprintf(url, sizeof url, "https://shop.example.com%s", path);
    const char *ref = s->last_url[0] ? s->last_url : referrers[px_rng_below(R(s), COUNT(referrers))];
    px_sbuf_puts(b, ",\"properties\":{\"path\":");
    px_sbuf_json_str(b, path);
    px_sbuf_puts(b, ",\"url\":");
    px_sbuf_json_str(b, url);
    px_sbuf_puts(b, ",\"title\":");
    px_sbuf_json_str(b, name);
    px_sbuf_puts(b, ",\"referrer\":");
    px_sbuf_json_str(b, ref);
    snprintf(s->last_url, sizeof s->last_url, "%s", url);
  }
  px_sbuf_putc(b, '}');
  end(s);
}

static void track_start(sess *s, const char *event) {
  begin(s, PX_EV_TRACK);
  px_sbuf_fmt(s->out, ",\"event\":\"%s\",\"properties\":{", event);
}

static void track_end(sess *s) {
  px_sbuf_putc(s->out, '}');
  end(s);
}

static uint64_t popular_product(sess *s) {
  double u = px_rng_unit(R(s));
  return (uint64_t)((double)s->g->products * u * u * u);
}

static void view_product(sess *s) {
  uint64_t i = popular_product(s);
  char path[32];
  snprintf(path, sizeof path, "/products/P%05llu", (unsigned long long)i);
  page(s, "Product Detail", path);
  track_start(s, "Product Viewed");
  put_product(s->out, i);
  track_end(s);
  if (s->ncart < 4 && px_rng_chance(R(s), 0.3)) {
    s->cart[s->ncart] = i;
    s->qty[s->ncart] = 1 + (px_rng_chance(R(s), 0.25) ? px_rng_below(R(s), 3) : 0);
    if (!s->cart_id) s->cart_id = s->g->next_msg;
    track_start(s, "Product Added");
    px_sbuf_fmt(s->out, "\"cart_id\":\"c%llu\",", (unsigned long long)s->cart_id);
    put_product(s->out, i);
    px_sbuf_fmt(s->out, ",\"quantity\":%llu", (unsigned long long)s->qty[s->ncart]);
    track_end(s);
    s->ncart++;
  }
}

static void browse(sess *s) {
  static const char *const searches[] = {"running shoes", "coffee", "gift for dad", "sausages", "headphones",
                                         "yoga", "lamp", "organic"};
  double c = px_rng_unit(R(s));
  if (c < 0.55) {
    view_product(s);
  } else if (c < 0.75) {
    size_t cat = px_rng_below(R(s), COUNT(categories));
    char path[48];
    snprintf(path, sizeof path, "/category/%s", categories[cat]);
    page(s, categories[cat], path);
    track_start(s, "Product List Viewed");
    px_sbuf_fmt(s->out, "\"list_id\":\"%s\",\"category\":\"%s\"", categories[cat], categories[cat]);
    track_end(s);
  } else if (c < 0.9) {
    track_start(s, "Products Searched");
    px_sbuf_puts(s->out, "\"query\":");
    px_sbuf_json_str(s->out, searches[px_rng_below(R(s), COUNT(searches))]);
    track_end(s);
  } else {
    page(s, "Blog", "/blog/seasonal-picks");
  }
}

static void identify_traits(sess *s, int full) {
  const px_person *p = s->p;
  px_sbuf *b = s->out;
  char email[208], phone[40], ts[25];
  px_person_email_variant(p, R(s), email, sizeof email);
  begin(s, PX_EV_IDENTIFY);
  px_sbuf_puts(b, ",\"traits\":{\"email\":");
  px_sbuf_json_str(b, email);
  if (full || px_rng_chance(R(s), 0.4)) {
    px_sbuf_fmt(b, ",\"name\":\"%s ", p->first);
    px_sbuf_puts(b, p->last); /* names hold no characters that need escaping */
    px_sbuf_fmt(b, "\",\"first_name\":\"%s\",\"last_name\":\"%s\"", p->first, p->last);
  }
  if (p->phone && (full || px_rng_chance(R(s), 0.3))) {
    px_person_phone_variant(p, R(s), phone, sizeof phone);
    px_sbuf_puts(b, ",\"phone\":");
    px_sbuf_json_str(b, phone);
  }
  if (full) {
    px_iso8601(s->t, ts);
    px_sbuf_fmt(b, ",\"plan\":\"%s\",\"address\":{\"city\":\"%s\",\"country\":\"%s\"},\"created_at\":\"%s\"",
                p->plan, p->city, p->uk ? "GB" : "US", ts);
    if (p->company >= 0) {
      char name[64];
      px_company_name(p->company, name, sizeof name);
      px_sbuf_fmt(b, ",\"company\":{\"id\":\"acct_%lld\",\"name\":\"%s\"}", (long long)p->company, name);
    }
  }
  px_sbuf_putc(b, '}');
  end(s);
}

static void sign_in(sess *s) {
  int first = !(*s->state & PX_ST_SIGNED_UP);
  if (first && px_rng_chance(R(s), 0.05)) { /* some apps alias the visitor to the new user */
    s->linked = 1;
    begin(s, PX_EV_ALIAS);
    px_sbuf_fmt(s->out, ",\"previousId\":\"%s\"", s->anon);
    end(s);
  }
  s->linked = 1;
  identify_traits(s, first);
  track_start(s, first ? "Signed Up" : "Signed In");
  px_sbuf_fmt(s->out, "\"method\":\"%s\"", px_rng_chance(R(s), 0.7) ? "email" : "google");
  track_end(s);
  *s->state |= (uint8_t)(PX_ST_SIGNED_UP | PX_ST_LINKED(s->device));
}

static void lead_capture(sess *s) {
  identify_traits(s, 0); /* anonymous: no userId yet, only an e-mail */
  track_start(s, "Newsletter Subscribed");
  px_sbuf_puts(s->out, "\"list\":\"weekly-deals\"");
  track_end(s);
  *s->state |= PX_ST_LEAD;
}

static void checkout(sess *s) {
  uint64_t subtotal = 0;
  for (int i = 0; i < s->ncart; i++) subtotal += product_cents(s->cart[i]) * s->qty[i];
  if (px_rng_chance(R(s), 0.6)) {
    track_start(s, "Cart Viewed");
    px_sbuf_fmt(s->out, "\"cart_id\":\"c%llu\",\"value\":", (unsigned long long)s->cart_id);
    put_money(s->out, subtotal);
    track_end(s);
  }
  if (!px_rng_chance(R(s), 0.55)) return;
  track_start(s, "Checkout Started");
  px_sbuf_fmt(s->out, "\"cart_id\":\"c%llu\",\"value\":", (unsigned long long)s->cart_id);
  put_money(s->out, subtotal);
  px_sbuf_fmt(s->out, ",\"currency\":\"%s\"", s->p->uk ? "GBP" : "USD");
  track_end(s);
  if (!s->linked || !px_rng_chance(R(s), 0.7)) return;

  int coupon = px_rng_chance(R(s), 0.2);
  uint64_t discount = coupon ? subtotal / 10 : 0, shipping = subtotal > 5000 ? 0 : 499;
  uint64_t tax = (subtotal - discount) * 8 / 100;
  track_start(s, "Order Completed");
  px_sbuf_fmt(s->out, "\"order_id\":\"ORD-%llu\",\"affiliation\":\"Online Store\",\"total\":",
              (unsigned long long)(10000000 + s->g->next_msg));
  put_money(s->out, subtotal - discount + shipping + tax);
  px_sbuf_puts(s->out, ",\"revenue\":");
  put_money(s->out, subtotal - discount);
  px_sbuf_puts(s->out, ",\"shipping\":");
  put_money(s->out, shipping);
  px_sbuf_puts(s->out, ",\"tax\":");
  put_money(s->out, tax);
  px_sbuf_puts(s->out, ",\"discount\":");
  put_money(s->out, discount);
  if (coupon) px_sbuf_puts(s->out, ",\"coupon\":\"SPRING10\"");
  px_sbuf_fmt(s->out, ",\"currency\":\"%s\",\"products\":[", s->p->uk ? "GBP" : "USD");
  for (int i = 0; i < s->ncart; i++) {
    px_sbuf_puts(s->out, i ? ",{" : "{");
    put_product(s->out, s->cart[i]);
    px_sbuf_fmt(s->out, ",\"quantity\":%llu}", (unsigned long long)s->qty[i]);
  }
  px_sbuf_putc(s->out, ']');
  track_end(s);
}

static void group(sess *s) {
  static const char *const sizes[] = {"1-10", "11-50", "51-200", "201-1000", "1000+"};
  char name[64];
  px_company_name(s->p->company, name, sizeof name);
  begin(s, PX_EV_GROUP);
  px_sbuf_fmt(s->out,
              ",\"groupId\":\"acct_%lld\",\"traits\":{\"name\":\"%s\",\"industry\":\"%s\",\"employees\":\"%s\","
              "\"plan\":\"%s\"}",
              (long long)s->p->company, name, px_company_industry(s->p->company),
              sizes[px_mix64((uint64_t)s->p->company) % COUNT(sizes)], px_rng_chance(R(s), 0.5) ? "enterprise" : "pro");
  end(s);
}

size_t px_gen_session(px_gen *g, const px_person *p, int device, uint8_t *state, int64_t t_ms, px_sbuf *out,
                      int *uid_at) {
  sess s = {.g = g, .p = p, .state = state, .out = out, .device = device, .t = t_ms, .uid_at = -1};
  s.mobile = (p->mobile_mask >> device) & 1;
  s.linked = p->known && (*state & PX_ST_LINKED(device));
  px_person_anon_id(p, g->seed, device, s.anon);

  if (s.mobile) {
    track_start(&s, "Application Opened");
    px_sbuf_puts(out, "\"from_background\":false");
    track_end(&s);
    page(&s, "Home", "/");
  } else {
    page(&s, "Home", "/");
  }
  if (s.linked && px_rng_chance(R(&s), 0.3)) identify_traits(&s, 0); /* apps often re-identify on launch */
  int views = 1 + (int)px_rng_below(R(&s), 3) + (px_rng_chance(R(&s), 0.3) ? (int)px_rng_below(R(&s), 5) : 0);
  int login_at = p->known && !s.linked && px_rng_chance(R(&s), (*state & PX_ST_SIGNED_UP) ? 0.6 : 0.45)
                     ? (int)px_rng_below(R(&s), (uint64_t)views + 1)
                     : -1;
  for (int i = 0; i <= views; i++) {
    if (i == login_at) sign_in(&s);
    if (i < views) browse(&s);
  }
  if (!s.linked && p->known && !(*state & PX_ST_LEAD) && px_rng_chance(R(&s), 0.1)) lead_capture(&s);
  if (s.ncart) checkout(&s);
  if (s.linked) {
    if (p->company >= 0 && px_rng_chance(R(&s), 0.3)) group(&s);
    if (px_rng_chance(R(&s), 0.05)) {
      begin(&s, PX_EV_IDENTIFY);
      px_sbuf_fmt(out, ",\"traits\":{\"plan\":\"%s\"}", px_rng_chance(R(&s), 0.7) ? "pro" : "enterprise");
      end(&s);
    }
  }
  *uid_at = s.uid_at;
  return s.count;
}
