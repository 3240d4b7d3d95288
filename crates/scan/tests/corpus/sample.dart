// TODO: yes dart
var s = '// FIXME NOPE';
var r = r'\'; // HACK yes after raw string
var m = '''
// XXX NOPE
''';
/* outer /* inner */ BUG: yes nested */
