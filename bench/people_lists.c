/* Word lists for px-gen-people, written for this tool, each roughly in order
 * of how common the word is. Picks are Zipf-like: the word of rank r has
 * weight (r + k)^-s, so common names collide as they do in real data
 * (about 40% of people carry one of the few hundred common surnames; the
 * rest get one of ~30,000 surnames built from syllables). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "people.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const male[] = {
    "james", "john", "robert", "michael", "william", "david", "peter", "andrew", "daniel", "thomas", "matthew",
    "christopher", "mark", "paul", "richard", "joseph", "anthony", "steven", "jack", "benjamin", "joshua", "ryan",
    "nicholas", "samuel", "stephen", "timothy", "jason", "kenneth", "brian", "george", "edward", "jonathan",
    "gregory", "scott", "alexander", "patrick", "luke", "liam", "oliver", "noah", "ethan", "lucas", "harrison",
    "cooper", "lachlan", "riley", "mitchell", "adam", "nathan", "henry", "charles", "donald", "kevin", "ronald",
    "jeffrey", "jacob", "gary", "eric", "frank", "raymond", "dennis", "jerry", "tyler", "aaron", "douglas", "zachary",
    "kyle", "walter", "jeremy", "keith", "roger", "terry", "gerald", "harold", "sean", "austin", "carl", "arthur",
    "lawrence", "dylan", "jesse", "jordan", "bryan", "bruce", "gabriel", "logan", "albert", "alan", "wayne", "elijah",
    "roy", "vincent", "ralph", "eugene", "russell", "mason", "philip", "louis", "hamish", "angus", "callum", "declan",
    "connor", "oscar", "leo", "hugo", "archie", "charlie", "max", "harry", "jake", "blake", "kane", "brodie",
    "jayden", "caleb", "isaac", "owen", "hunter", "toby", "finn", "xavier", "sebastian", "dominic", "marcus",
    "nathaniel", "travis", "shane", "darren", "craig", "glenn", "grant", "neil", "graham", "ian", "colin", "stuart",
    "trevor", "barry", "malcolm", "rodney", "wesley", "clive", "nigel", "frederick", "leonard", "stanley", "bernard",
    "howard", "norman",
};

static const char *const female[] = {
    "mary", "sarah", "jessica", "emily", "elizabeth", "jennifer", "michelle", "lisa", "karen", "susan", "margaret",
    "rebecca", "amanda", "laura", "emma", "nicole", "rachel", "hannah", "olivia", "chloe", "patricia", "linda",
    "barbara", "kimberly", "melissa", "stephanie", "samantha", "katherine", "christine", "helen", "catherine", "anna",
    "julie", "kelly", "lauren", "amy", "angela", "sharon", "deborah", "sandra", "charlotte", "sophia", "grace",
    "isabella", "mia", "ava", "isla", "amelia", "ruby", "zoe", "matilda", "lily", "ella", "sienna", "jasmine",
    "georgia", "holly", "jade", "tayla", "caitlin", "bianca", "brooke", "courtney", "kirsty", "leanne", "tracey",
    "narelle", "kylie", "belinda", "fiona", "joanne", "sally", "wendy", "gillian", "jane", "kate", "lucy", "molly",
    "phoebe", "abbey", "madeline", "imogen", "eliza", "harriet", "rose", "violet", "penelope", "josephine",
    "annabelle", "natasha", "tamara", "vanessa", "rosemary", "beryl", "maureen", "valerie", "nancy", "betty",
    "dorothy", "donna", "carol", "cynthia", "kathleen", "shirley", "brenda", "pamela", "debra", "carolyn", "janet",
    "maria", "heather", "diane", "ruth", "joyce", "virginia", "victoria", "christina", "joan", "evelyn", "judith",
    "megan", "andrea", "cheryl", "jacqueline", "martha", "gloria", "teresa", "ann", "sara", "madison", "frances",
    "kathryn", "janice", "jean", "abigail", "alice", "judy", "denise", "amber", "doris", "marilyn", "danielle",
    "beverly", "theresa", "diana", "natalie", "marie", "kayla", "alexis", "lori",
};

static const char *const common_surnames[] = {
    "smith", "jones", "williams", "brown", "wilson", "taylor", "johnson", "white", "martin", "anderson", "thompson",
    "nguyen", "thomas", "walker", "harris", "lee", "ryan", "robinson", "kelly", "king", "davis", "wright", "evans",
    "roberts", "green", "hall", "wood", "jackson", "clarke", "campbell", "edwards", "murphy", "hughes", "clark",
    "turner", "hill", "moore", "scott", "cooper", "young", "morris", "mitchell", "baker", "cook", "ward", "hunt",
    "graham", "stewart", "watson", "wallace", "allen", "bell", "collins", "carter", "morgan", "parker", "bennett",
    "murray", "phillips", "price", "kennedy", "bailey", "harrison", "richardson", "gray", "russell", "ross", "fisher",
    "james", "reid", "butler", "simpson", "marshall", "ellis", "lewis", "palmer", "hamilton", "hart", "fraser",
    "shaw", "gibson", "chapman", "holmes", "mills", "grant", "knight", "mcdonald", "stevens", "webb", "davies",
    "elliott", "cole", "hunter", "lloyd", "barnes", "matthews", "hayes", "ford", "armstrong", "burns", "ferguson",
    "jenkins", "robertson", "lawrence", "dixon", "fox", "saunders", "spencer", "porter", "owen", "watts", "henderson",
    "sullivan", "o'brien", "o'connor", "quinn", "brennan", "doyle", "byrne", "walsh", "gallagher", "fitzgerald",
    "duffy", "maher", "mccarthy", "mckenzie", "mclean", "macdonald", "mackay", "cameron", "sinclair", "douglas",
    "kerr", "burke", "barker", "berry", "black", "booth", "boyd", "bradley", "brooks", "bryant", "burton", "chambers",
    "chen", "cheng", "dawson", "day", "dean", "dunn", "field", "fleming", "foster", "francis", "gardner", "gilbert",
    "gordon", "griffiths", "hancock", "harper", "hawkins", "henry", "higgins", "hobbs", "hodges", "holland",
    "hopkins", "howard", "hudson", "jordan", "kaur", "kim", "lambert", "lane", "lawson", "li", "liu", "lynch", "mann",
    "marsh", "may", "miller", "morrison", "moss", "newman", "nicholls", "norris", "oliver", "osborne", "page",
    "payne", "pearce", "pearson", "perry", "peters", "pham", "powell", "rees", "reynolds", "rice", "riley", "rogers",
    "rowe", "sanders", "sharp", "sharma", "singh", "slater", "stone", "sutton", "tan", "tran", "tucker", "vaughan",
    "wade", "walters", "wang", "warren", "waters", "watkins", "webster", "welch", "west", "wheeler", "wilkinson",
    "williamson", "wong", "woods", "wu", "yang", "zhang", "le", "lim", "ho", "ng", "chan", "ali", "ahmed", "kowalski",
    "novak", "rossi", "russo", "costa", "silva", "santos", "papadopoulos", "muller", "schmidt", "fischer", "weber",
    "meyer", "becker", "hoffmann", "jansen", "bishop", "blake", "bond", "bowen", "boyle", "briggs", "buckley", "bull",
    "cartwright", "chandler", "cross", "curtis", "dale", "daniels", "doherty", "duncan", "farrell", "fowler", "frost",
    "fuller", "garner", "gill", "goodwin", "gough", "greenwood", "hale", "hardy", "hewitt", "hogan", "horton",
    "houghton", "hyde", "ingram", "jarvis", "jennings", "keane",
};

/* The long tail of surnames: onset + middle + ending (~30,000 of them). */
static const char *const sn_onset[] = {
    "ash", "bal", "bar", "bel", "ben", "blan", "bram", "brad", "cal", "car", "chad", "col", "cor", "craw", "dal",
    "dar", "den", "dun", "el", "fair", "far", "fen", "gar", "gil", "glen", "gor", "hal", "har", "hay", "hol", "kel",
    "ken", "kin", "lang", "lind", "mar", "mel", "mor", "nor", "pem", "pres", "rad", "ram", "red", "ros", "rut", "sel",
    "stan", "thorn", "tal", "wal", "war", "wel", "whit", "win", "wood", "ald", "ames", "bur", "cam", "dray", "ed",
    "gold", "hart", "lock", "pen", "shel", "tem", "ver", "york",
};
static const char *const sn_middle[] = {"", "", "", "", "er", "en", "ing", "el", "a", "i", "on", "ow"};
static const char *const sn_ending[] = {
    "ton", "ford", "by", "ley", "worth", "field", "man", "son", "wick", "more", "well", "ham", "stead", "land",
    "wood", "den", "ett", "combe", "hurst", "shaw", "ridge", "brook", "croft", "dale", "gate", "holm", "ock", "ings",
    "sley", "ard", "kin", "ston", "ter", "low", "ney", "don", "bury", "mond", "rick", "ey", "er", "lin", "nell",
    "cott", "ridge", "thwaite", "stone", "grave", "ville", "hope",
};

typedef struct nick {
  const char *name, *nicks[5];
} nick;

static const nick nicknames[] = {
    {"robert", {"bob", "rob", "bobby", "robbie"}},  {"william", {"bill", "will", "billy", "liam"}},
    {"elizabeth", {"liz", "beth", "lizzie", "betty"}}, {"james", {"jim", "jimmy", "jamie"}},
    {"john", {"johnny", "jack"}},                   {"michael", {"mike", "mick", "mikey"}},
    {"richard", {"rick", "dick", "richie"}},        {"joseph", {"joe", "joey"}},
    {"thomas", {"tom", "tommy"}},                   {"charles", {"charlie", "chuck"}},
    {"christopher", {"chris", "kit"}},              {"daniel", {"dan", "danny"}},
    {"matthew", {"matt"}},                          {"anthony", {"tony"}},
    {"donald", {"don"}},                            {"steven", {"steve"}},
    {"andrew", {"andy", "drew"}},                   {"joshua", {"josh"}},
    {"kenneth", {"ken", "kenny"}},                  {"timothy", {"tim"}},
    {"ronald", {"ron", "ronnie"}},                  {"edward", {"ed", "eddie", "ted"}},
    {"jeffrey", {"jeff"}},                          {"jacob", {"jake"}},
    {"nicholas", {"nick", "nicky"}},                {"jonathan", {"jon"}},
    {"stephen", {"steve"}},                         {"benjamin", {"ben", "benny"}},
    {"samuel", {"sam", "sammy"}},                   {"gregory", {"greg"}},
    {"alexander", {"alex", "sandy"}},               {"patrick", {"pat", "paddy"}},
    {"raymond", {"ray"}},                           {"gerald", {"gerry"}},
    {"lawrence", {"larry"}},                        {"zachary", {"zach"}},
    {"nathan", {"nate"}},                           {"nathaniel", {"nate", "nat"}},
    {"harold", {"harry"}},                          {"henry", {"harry", "hank"}},
    {"peter", {"pete"}},                            {"philip", {"phil"}},
    {"vincent", {"vince"}},                         {"douglas", {"doug"}},
    {"walter", {"walt", "wally"}},                  {"eugene", {"gene"}},
    {"russell", {"russ"}},                          {"albert", {"al", "bert"}},
    {"alan", {"al"}},                               {"dominic", {"dom"}},
    {"sebastian", {"seb"}},                         {"frederick", {"fred", "freddie"}},
    {"leonard", {"len", "lenny"}},                  {"stanley", {"stan"}},
    {"bernard", {"bernie"}},                        {"mary", {"molly", "polly"}},
    {"patricia", {"pat", "patty", "trish"}},        {"jennifer", {"jen", "jenny"}},
    {"margaret", {"maggie", "peggy", "meg"}},       {"barbara", {"barb"}},
    {"susan", {"sue", "susie"}},                    {"jessica", {"jess"}},
    {"deborah", {"deb", "debbie"}},                 {"debra", {"deb", "debbie"}},
    {"rebecca", {"becky", "bec"}},                  {"katherine", {"kate", "kathy", "katie"}},
    {"kathleen", {"kathy", "kath"}},                {"catherine", {"cathy", "cate", "kate"}},
    {"christine", {"chris", "chrissy"}},            {"christina", {"tina"}},
    {"samantha", {"sam"}},                          {"victoria", {"vicky", "tori"}},
    {"kimberly", {"kim"}},                          {"pamela", {"pam"}},
    {"cynthia", {"cindy"}},                         {"sandra", {"sandy"}},
    {"stephanie", {"steph"}},                       {"amanda", {"mandy"}},
    {"abigail", {"abby"}},                          {"madison", {"maddie"}},
    {"madeline", {"maddie"}},                       {"josephine", {"jo", "josie"}},
    {"penelope", {"penny"}},                        {"natalie", {"nat"}},
    {"judith", {"judy"}},                           {"dorothy", {"dot", "dottie"}},
    {"frances", {"fran"}},                          {"jacqueline", {"jackie"}},
    {"valerie", {"val"}},                           {"theresa", {"tess", "terri"}},
    {"teresa", {"tess", "terri"}},                  {"rosemary", {"rose"}},
    {"annabelle", {"annie"}},                       {"gillian", {"gill"}},
    {"isabella", {"bella", "izzy"}},                {"charlotte", {"charlie", "lottie"}},
    {"danielle", {"dani"}},                         {"kathryn", {"kathy"}},
};

static const char *const street_words[] = {
    "george", "king", "queen", "william", "victoria", "albert", "church", "high", "park", "station", "railway",
    "main", "bridge", "mill", "hill", "elizabeth", "charles", "edward", "john", "james", "wattle", "banksia",
    "acacia", "bottlebrush", "jacaranda", "waratah", "kurrajong", "boronia", "grevillea", "melaleuca", "ironbark",
    "bluegum", "redgum", "myrtle", "ocean", "beach", "bay", "river", "lake", "forest", "valley", "ridge", "spring",
    "creek", "mountain", "harbour", "pacific", "macquarie", "hume", "sturt", "flinders", "bass", "oxley", "cook",
    "phillip", "hunter", "bligh", "lachlan", "darling", "murray", "mitchell", "stirling", "hindmarsh", "light",
    "collins", "bourke", "swanston", "spencer", "russell", "lonsdale", "wellington", "nelson", "raglan", "gladstone",
    "palmerston", "beaconsfield", "salisbury", "devonshire", "cambridge", "oxford", "york", "kent", "essex", "sussex",
    "surrey", "norfolk", "suffolk", "devon", "cornwall", "dorset", "somerset", "warwick", "windsor", "hampton",
    "richmond", "kingston", "clarence", "brunswick", "hanover", "regent", "prince", "princess", "crown", "union",
    "commercial", "industrial", "wharf", "canal", "ferry", "boundary", "north", "south", "east", "west", "central",
    "grand", "new", "old", "short", "long", "orchard", "vineyard", "farm", "garden", "meadow", "heath", "glen",
    "dale", "field", "elm", "oak", "ash", "pine", "cedar", "willow", "poplar", "maple", "birch", "laurel", "holly",
    "ivy", "rose", "violet", "lavender", "daisy", "tulip", "iris", "tullaroop", "giblin", "goldfinch", "sturdee",
    "hoseason", "pridham", "wallaby", "kangaroo", "emu", "koala", "wombat", "possum", "echidna",
};

typedef struct street_type {
  const char *full, *abbrev;
  double weight;
} street_type;

static const street_type street_types[] = {
    {"street", "st", 40},  {"road", "rd", 18},     {"avenue", "ave", 10}, {"drive", "dr", 7},
    {"court", "ct", 5},    {"place", "pl", 5},     {"crescent", "cres", 4}, {"close", "cl", 3},
    {"lane", "ln", 2},     {"parade", "pde", 2},   {"way", "wy", 2},      {"circuit", "cct", 1},
    {"terrace", "tce", 1}, {"grove", "gr", 1},     {"boulevard", "bvd", 1}, {"highway", "hwy", 1},
};

/* Other words with a usual abbreviation (suburbs). */
static const street_type other_abbrevs[] = {
    {"mount", "mt", 0}, {"north", "nth", 0}, {"south", "sth", 0}, {"heights", "hts", 0}, {"point", "pt", 0},
};

static const char *const property_names[] = {
    "rosedale", "the pines", "bellevue", "sunnyside", "glenview", "riverview", "hillcrest", "fernleigh", "oakleigh",
    "braeside", "woodlands", "greenacres", "the willows", "kooringal", "warrawee", "yarrabee", "willaroo",
    "killarney", "kooltuo", "wintersloe", "wellwood", "tremearne", "delmar", "inglewood", "currin ga",
    "lakefront retirement village", "brookvale", "myrtle grove", "seaview", "belmont park", "strathmore", "ashgrove",
    "mountain view", "the laurels", "clovelly", "dunmore", "avondale", "camden park",
};

static const char *const suburb_words[] = {
    "kingswood", "glenbrook", "blacktown", "parramatta", "penrith", "richmond", "windsor", "hornsby", "chatswood",
    "ryde", "epping", "carlingford", "castle hill", "bankstown", "liverpool", "campbelltown", "camden", "canterbury",
    "marrickville", "newtown", "bondi", "randwick", "coogee", "manly", "dee why", "mona vale", "avalon", "gosford",
    "wyong", "toukley", "maitland", "cessnock", "kurri kurri", "singleton", "muswellbrook", "scone", "tamworth",
    "armidale", "inverell", "moree", "dubbo", "orange", "bathurst", "lithgow", "goulburn", "yass", "queanbeyan",
    "cooma", "bega", "eden", "wagga wagga", "albury", "griffith", "leeton", "narrandera", "hay", "deniliquin",
    "broken hill", "carlton", "fitzroy", "collingwood", "brunswick", "coburg", "preston", "reservoir", "heidelberg",
    "box hill", "ringwood", "croydon", "lilydale", "dandenong", "frankston", "mornington", "rosebud", "sorrento",
    "geelong", "ballarat", "bendigo", "shepparton", "wodonga", "mildura", "horsham", "warrnambool", "portland",
    "hamilton", "colac", "sale", "bairnsdale", "traralgon", "morwell", "toowoomba", "ipswich", "logan", "redcliffe",
    "caboolture", "nambour", "maroochydore", "noosa", "gympie", "maryborough", "bundaberg", "gladstone",
    "rockhampton", "mackay", "bowen", "townsville", "ingham", "innisfail", "cairns", "mareeba", "kellerberrin",
    "scarborough", "cleveland", "marsden", "granville", "utakarra", "bittern", "coolaroo", "beaconsfield", "st james",
    "fremantle", "rockingham", "mandurah", "bunbury", "busselton", "albany", "geraldton", "kalgoorlie", "broome",
    "karratha", "glenelg", "norwood", "unley", "prospect", "salisbury", "elizabeth", "gawler", "murray bridge",
    "mount gambier", "whyalla", "hobart", "glenorchy", "kingston", "launceston", "devonport", "burnie", "ulverstone",
    "darwin", "palmerston", "katherine", "belconnen", "woden", "tuggeranong", "gungahlin", "weston creek", "kambah",
    "bruce", "dickson", "lyneham", "braddon",
};

static const char *const suburb_suffixes[] = {"north", "south", "east", "west", "heights", "park", "point", "vale"};

typedef struct state_info {
  const char *code;
  double weight; /* share of the population, percent */
  unsigned lo1, hi1, lo2, hi2; /* postcode ranges (second may be empty: 0, 0) */
  int area;                    /* phone area code */
} state_info;

static const state_info states[] = {
    {"nsw", 32, 2000, 2599, 2619, 2899, 2}, {"vic", 26, 3000, 3999, 0, 0, 3},
    {"qld", 20, 4000, 4999, 0, 0, 7},       {"wa", 10, 6000, 6797, 0, 0, 8},
    {"sa", 7, 5000, 5799, 0, 0, 8},         {"tas", 2, 7000, 7799, 0, 0, 3},
    {"act", 2, 2600, 2618, 2900, 2920, 2},  {"nt", 1, 800, 899, 0, 0, 8},
};

static const struct {
  const char *name;
  double weight;
} domains[] = {
    {"gmail.com", 35},     {"hotmail.com", 12}, {"outlook.com", 10},   {"yahoo.com.au", 8},
    {"bigpond.com", 8},    {"icloud.com", 7},   {"optusnet.com.au", 4}, {"yahoo.com", 4},
    {"live.com.au", 3},    {"iinet.net.au", 3}, {"tpg.com.au", 2},     {"internode.on.net", 1},
};

/* Cumulative weights, filled by px_people_lists_init. */
typedef struct cumw {
  double c[320];
  size_t n;
} cumw;

static cumw cw_male, cw_female, cw_surname, cw_street, cw_type, cw_state, cw_domain, cw_suburb;

static void zipf(cumw *w, size_t n, double k, double s) {
  if (n > COUNT(w->c)) px_bench_die("internal: a word list is longer than %zu", COUNT(w->c));
  double t = 0;
  for (size_t i = 0; i < n; i++) w->c[i] = t += pow((double)i + 1 + k, -s);
  w->n = n;
}

static size_t draw(const cumw *w, px_rng *r) {
  double u = px_rng_unit(r) * w->c[w->n - 1];
  size_t lo = 0, hi = w->n - 1;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (w->c[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

void px_people_lists_init(void) {
  zipf(&cw_male, COUNT(male), 8, 1.0);
  zipf(&cw_female, COUNT(female), 8, 1.0);
  zipf(&cw_surname, COUNT(common_surnames), 10, 0.9);
  zipf(&cw_street, COUNT(street_words), 20, 0.8);
  zipf(&cw_suburb, COUNT(suburb_words), 30, 0.5);
  double t = 0;
  for (size_t i = 0; i < COUNT(street_types); i++) cw_type.c[i] = t += street_types[i].weight;
  cw_type.n = COUNT(street_types);
  t = 0;
  for (size_t i = 0; i < COUNT(states); i++) cw_state.c[i] = t += states[i].weight;
  cw_state.n = COUNT(states);
  t = 0;
  for (size_t i = 0; i < COUNT(domains); i++) cw_domain.c[i] = t += domains[i].weight;
  cw_domain.n = COUNT(domains);
}

const char *px_people_given(px_rng *r) {
  return px_rng_chance(r, 0.5) ? male[draw(&cw_male, r)] : female[draw(&cw_female, r)];
}

/* Index in [0, n) skewed towards the start (earlier parts are more common). */
static size_t skewed(px_rng *r, size_t n) {
  double u = px_rng_unit(r);
  return (size_t)((double)n * u * sqrt(u));
}

void px_people_surname(px_rng *r, char *out, size_t n) {
  if (px_rng_chance(r, 0.42)) {
    snprintf(out, n, "%s", common_surnames[draw(&cw_surname, r)]);
    return;
  }
  const char *a = sn_onset[skewed(r, COUNT(sn_onset))];
  const char *b = sn_middle[px_rng_below(r, COUNT(sn_middle))];
  const char *c = sn_ending[skewed(r, COUNT(sn_ending))];
  snprintf(out, n, "%s%s%s", a, b, c);
}

const char *px_people_nickname(const char *given, px_rng *r) {
  for (size_t i = 0; i < COUNT(nicknames); i++) {
    if (strcmp(nicknames[i].name, given) != 0) continue;
    size_t k = 0;
    while (k < COUNT(nicknames[i].nicks) && nicknames[i].nicks[k]) k++;
    return nicknames[i].nicks[px_rng_below(r, k)];
  }
  return NULL;
}

void px_people_street(px_rng *r, char *out, size_t n) {
  snprintf(out, n, "%s %s", street_words[draw(&cw_street, r)], street_types[draw(&cw_type, r)].full);
}

void px_people_unit(px_rng *r, char *out, size_t n) {
  static const char *const kinds[] = {"unit", "unit", "unit", "flat", "apartment", "level", "suite"};
  double u = px_rng_unit(r);
  if (u < 0.55) out[0] = '\0';
  else if (u < 0.80)
    snprintf(out, n, "%s %u", kinds[px_rng_below(r, COUNT(kinds))], 1 + (unsigned)skewed(r, 60));
  else snprintf(out, n, "%s", property_names[px_rng_below(r, COUNT(property_names))]);
}

int px_people_state(px_rng *r) { return (int)draw(&cw_state, r); }
const char *px_people_state_code(int state) { return states[state].code; }
int px_people_state_count(void) { return (int)COUNT(states); }
int px_people_area_code(int state) { return states[state].area; }

unsigned px_people_postcode(int state, px_rng *r) {
  const state_info *s = &states[state];
  unsigned n1 = s->hi1 - s->lo1 + 1, n2 = s->lo2 ? s->hi2 - s->lo2 + 1 : 0;
  unsigned k = (unsigned)px_rng_below(r, n1 + n2);
  return k < n1 ? s->lo1 + k : s->lo2 + (k - n1);
}

/* Each postcode has one to four suburbs, a pure function of the postcode. */
void px_people_suburb(unsigned postcode, px_rng *r, char *out, size_t n) {
  uint64_t h = px_mix64(postcode * 0x9e3779b1ULL + 7);
  unsigned nsub = 1 + (unsigned)(h % 4);
  unsigned j = (unsigned)px_rng_below(r, nsub);
  px_rng pr = {px_mix64(h ^ (j + 1))};
  const char *w = suburb_words[draw(&cw_suburb, &pr)];
  double u = px_rng_unit(&pr);
  if (u < 0.08) snprintf(out, n, "mount %s", w);
  else if (u < 0.30) snprintf(out, n, "%s %s", w, suburb_suffixes[px_rng_below(&pr, COUNT(suburb_suffixes))]);
  else snprintf(out, n, "%s", w);
}

const char *px_people_domain(px_rng *r) { return domains[draw(&cw_domain, r)].name; }

/* Replaces word w (whole word) at the first place it occurs in s by a. */
static int replace_word(char *s, size_t n, const char *w, const char *a) {
  size_t wl = strlen(w), al = strlen(a), sl = strlen(s);
  for (char *p = s; (p = strstr(p, w)) != NULL; p++) {
    int start = p == s || p[-1] == ' ';
    int end = p[wl] == '\0' || p[wl] == ' ';
    if (!start || !end) continue;
    if (sl - wl + al + 1 > n) return 0;
    memmove(p + al, p + wl, strlen(p + wl) + 1);
    memcpy(p, a, al);
    return 1;
  }
  return 0;
}

int px_people_abbreviate(char *s, size_t n) {
  for (size_t i = 0; i < COUNT(street_types); i++)
    if (replace_word(s, n, street_types[i].full, street_types[i].abbrev)) return 1;
  for (size_t i = 0; i < COUNT(other_abbrevs); i++)
    if (replace_word(s, n, other_abbrevs[i].full, other_abbrevs[i].abbrev)) return 1;
  return 0;
}

char px_people_key_neighbour(char c, px_rng *r) {
  static const char *const rows[] = {"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"};
  for (int row = 0; row < 4; row++) {
    const char *at = strchr(rows[row], c);
    if (!at || c == '\0') continue;
    int col = (int)(at - rows[row]);
    char cand[6];
    int k = 0;
    /* same row left and right; letters also the keys above and below */
    if (col > 0) cand[k++] = rows[row][col - 1];
    if (rows[row][col + 1]) cand[k++] = rows[row][col + 1];
    if (row > 0) {
      if (row > 1 && (size_t)col < strlen(rows[row - 1])) cand[k++] = rows[row - 1][col];
      if (row < 3 && (size_t)col < strlen(rows[row + 1])) cand[k++] = rows[row + 1][col];
    }
    return cand[px_rng_below(r, (uint64_t)k)];
  }
  return c;
}
