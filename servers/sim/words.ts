/**
 * The sim's notion of a noun phrase for words outside its lexicon. Without a part-of-speech model,
 * a phrase is a determiner, number or colour followed by ordinary words; its last word is the noun
 * ("a cozy reading nook" → nook). Function words end a phrase, and a few nouns that name the
 * picture itself or a place in it ("the left", "the image") are never objects.
 */

/** Words that end a noun phrase: prepositions, verbs that link or place, pronouns, connectives. */
export const STOP_WORDS = new Set([
  ...["of", "in", "on", "at", "to", "from", "by", "for", "near", "into", "onto", "over", "under", "behind", "beside", "between"],
  ...["among", "around", "through", "across", "against", "inside", "outside", "along", "toward", "towards", "within", "about", "off"],
  ...["is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did", "that", "which", "who", "whose"],
  ...["where", "when", "there", "here", "it", "its", "they", "them", "their", "he", "she", "him", "her", "his", "i", "me", "my"],
  ...["we", "us", "our", "you", "your", "as", "like", "so", "very", "too", "not", "only", "just", "each", "every", "both", "either"],
  ...["than", "if", "make", "makes", "draw", "show", "shows", "showing", "add", "put", "place", "want", "need", "please", "should"],
  ...["could", "would", "can", "will", "must", "more", "less", "much", "any", "other", "another", "same", "exactly", "precisely"],
  ...["again", "once", "set", "placed", "located", "positioned", "painted", "coloured", "colored", "style", "styled", "remove", "delete"],
  ...["keep", "let", "get", "give", "use", "looks", "look", "seems", "feel", "feels", "no", "yes", "some", "several", "many", "few"],
  ...["sits", "sit", "stands", "stand", "lies", "lie", "holds", "hold", "wears", "rest", "rests", "hangs", "hang", "floats", "float"],
  ...["bigger", "smaller", "larger", "brighter", "darker", "instead", "now", "still", "rather", "quite", "really", "maybe"],
  "hand", // "left-hand side"
]);

/** Verb forms that end a phrase when an object or place follows ("a man walking a dog"). */
export const isParticiple = (word: string) => word.length > 4 && word.endsWith("ing");

/** Nouns that name the picture, its parts or a time, never a thing in it. */
export const META_NOUNS = new Set([
  ...["image", "picture", "scene", "photo", "photograph", "painting", "drawing", "illustration", "render", "rendering", "art"],
  ...["artwork", "view", "shot", "frame", "canvas", "composition", "style", "look", "mood", "vibe", "atmosphere", "lighting"],
  ...["left", "right", "top", "bottom", "middle", "center", "centre", "side", "front", "back", "background", "foreground"],
  ...["day", "night", "morning", "evening", "afternoon", "today", "time", "lot", "bit", "kind", "sort", "type", "way", "version"],
  ...["detail", "details", "colour", "color", "colours", "colors", "text", "word", "words", "letters", "thing", "things", "one", "ones"],
  ...["feedback", "request", "prompt", "requirement", "question", "checklist"],
]);

/** Words in praise or thanks: a comment made only of these asks for nothing. */
export const PRAISE_WORDS = new Set([
  ...["great", "good", "nice", "love", "like", "perfect", "awesome", "cool", "ok", "okay", "thanks", "thank", "wow", "beautiful"],
  ...["amazing", "lovely", "excellent", "fine", "looks", "look", "this", "it", "is", "so", "very", "really", "that", "the", "a"],
]);

/** Common describing words; with the suffixes below they tell "a cozy, warm nook" from a list of things. */
const ADJECTIVES = new Set([
  ...["cozy", "cosy", "warm", "cold", "cool", "soft", "hard", "small", "big", "large", "tiny", "huge", "little", "tall", "short"],
  ...["long", "old", "new", "young", "bright", "dark", "light", "pale", "deep", "cute", "pretty", "ugly", "happy", "sad", "sleepy"],
  ...["round", "square", "flat", "shiny", "fluffy", "furry", "wooden", "plush", "clear", "even", "crisp", "legible", "clean"],
  ...["dreamlike", "imaginative", "quiet", "busy", "empty", "full", "wet", "dry", "rusty", "dusty", "fancy", "simple", "plain"],
  ...["modern", "ancient", "tidy", "messy", "sunny", "rainy", "snowy", "foggy", "golden", "silver", "wooden", "glass", "stone"],
]);

export const isAdjective = (word: string) => ADJECTIVES.has(word) || (word.length > 5 && /(?:ous|ful|less|like)$/.test(word));
