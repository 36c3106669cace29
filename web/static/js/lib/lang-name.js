// langName is a language's name in the page's language ("Chinese (China)"
// on an English page), or the tag itself when the browser has none.
export function langName(lang) {
  try {
    return new Intl.DisplayNames([document.documentElement.lang || 'en'], { type: 'language' }).of(lang) || lang;
  } catch (e) {
    return lang;
  }
}
