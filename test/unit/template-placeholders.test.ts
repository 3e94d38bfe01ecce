import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MESSAGE_TYPES, type MessageType } from '../../sidecar/kernel';
import { NOTICE_TEMPLATE_DIR } from '../../sidecar/rendering';
import {
  TEMPLATE_VARIABLES,
  placeholderExample,
  placeholderSnippet,
  sampleData,
  unknownPlaceholders,
} from '../../sidecar/web/pages/templates';
import { en } from '../../sidecar/web/i18n/en';

const draft = (text: string) => ({ subject: '', text, html: '' });

describe("the template editor's placeholders", () => {
  it('finds no unknown placeholder in any shipped template', () => {
    for (const lang of readdirSync(NOTICE_TEMPLATE_DIR)) {
      for (const file of readdirSync(path.join(NOTICE_TEMPLATE_DIR, lang))) {
        const type = file.split('.')[0] as MessageType;
        if (!(MESSAGE_TYPES as readonly string[]).includes(type)) continue;
        const source = readFileSync(path.join(NOTICE_TEMPLATE_DIR, lang, file), 'utf8');
        expect(unknownPlaceholders(type, draft(source)), `${lang}/${file}`).to.deep.equal([]);
      }
    }
  });

  it('names a misspelt or foreign placeholder, and knows loop variables and the items table', () => {
    expect(unknownPlaceholders('overdue', draft('{{ patron.fristname }} {{ patron.firstname }} {{ link }}'))).to.deep.equal([
      'patron.fristname',
      'link',
    ]);
    expect(
      unknownPlaceholders('overdue', draft('{% for item in items %}{{ loop.index }} {{ item.title }} {{ item.colour }}{% endfor %}')),
    ).to.deep.equal(['item.colour']);
    expect(unknownPlaceholders('overdue', draft('{% for x in loans %}{{ x }}{% endfor %}{{ items | length }}'))).to.deep.equal(['loans']);
  });

  it('has a meaning in the catalogue, an insertable form and an example for every placeholder', () => {
    for (const type of MESSAGE_TYPES) {
      const data = sampleData(type);
      for (const name of TEMPLATE_VARIABLES[type]) {
        expect(en, name).to.have.property(`placeholder.${name}`);
        expect(unknownPlaceholders(type, draft(placeholderSnippet(name, type))), name).to.deep.equal([]);
      }
      expect(placeholderExample('patron.firstname', data)).to.equal('Åsa');
      expect(placeholderExample('item.title', data)).to.equal('Röda rummet');
    }
  });
});
