import { expect } from 'chai';
import {
  planSms,
  segmentInfo,
  decodeSmsPayload,
  encodeGsm7,
  isGsmText,
  parseReceipt,
  parseReceiptText,
  destinationAddress,
  sourceAddress,
  SmsPlan,
} from '../../sidecar/channels/smpp';
import type { IncomingDeliver } from '../../sidecar/channels/smpp';
import { KmcError } from '../../sidecar/errors';

const ESC = 0x1b;

/** Decodes every part of a plan and joins them, checking the headers on the way. */
function roundTrip(plan: SmsPlan): string {
  const multi = plan.parts.length > 1;
  return plan.parts
    .map((part, i) => {
      const decoded = decodeSmsPayload(part, plan.dataCoding, multi);
      if (multi) {
        expect(decoded.concat, `part ${i + 1} header`).to.include({ total: plan.parts.length, sequence: i + 1 });
      } else {
        expect(decoded.concat).to.equal(null);
      }
      return decoded.text;
    })
    .join('');
}

/** The payload without its 6-octet header when the message has several parts. */
function body(plan: SmsPlan, i: number): Buffer {
  return plan.parts.length > 1 ? plan.parts[i].subarray(6) : plan.parts[i];
}

function septets(plan: SmsPlan, i: number): number {
  return body(plan, i).length;
}

function ucs2Units(plan: SmsPlan, i: number): number {
  return body(plan, i).length / 2;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(KmcError);
    return (err as KmcError).code;
  }
  throw new Error('expected a KmcError');
}

describe('SMS encoding (GSM 03.38 / UCS-2)', () => {
  describe('choosing the alphabet', () => {
    it('sends plain text as GSM, one septet per octet', () => {
      const plan = planSms('Hello @ 5$');
      expect(plan).to.include({ encoding: 'gsm7', dataCoding: 0, units: 10, perPart: 160 });
      expect(plan.parts).to.have.length(1);
      // '@' is septet 0x00 and '$' is 0x02 in the GSM alphabet, not their ASCII codes.
      expect([...plan.parts[0]]).to.deep.equal([0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x00, 0x20, 0x35, 0x02]);
      expect(roundTrip(plan)).to.equal('Hello @ 5$');
    });

    it('counts € and brackets from the extension table as two septets each', () => {
      const text = 'Fee 5€ [due] {x} ~^|\\';
      const plan = planSms(text);
      expect(plan.encoding).to.equal('gsm7');
      expect(plan.dataCoding).to.equal(0);
      const extensions = 9; // € [ ] { } ~ ^ | and backslash
      // Every character here is one UTF-16 unit, so the length counts characters.
      expect(plan.units).to.equal(text.length + extensions);
      const bytes = plan.parts[0];
      expect(bytes.indexOf(Buffer.from([ESC, 0x65]))).to.equal(5);
      expect(bytes.indexOf(Buffer.from([ESC, 0x3c]))).to.be.greaterThan(0);
      expect(roundTrip(plan)).to.equal(text);
    });

    it('counts form feed as an extension character', () => {
      const plan = planSms('a\fb');
      expect(plan.units).to.equal(4);
      expect([...plan.parts[0]]).to.deep.equal([0x61, ESC, 0x0a, 0x62]);
    });

    it('keeps accented letters of the GSM table in GSM and uses UCS-2 for others (never Latin-1)', () => {
      expect(planSms('Café Ørsta Ñandù ÄÖÜ ß').encoding).to.equal('gsm7');
      const plan = planSms('Bibliothèque à côté'); // ô and ê are Latin-1 but not GSM
      expect(plan).to.include({ encoding: 'ucs2', dataCoding: 8 });
      expect(roundTrip(plan)).to.equal('Bibliothèque à côté');
    });

    it('maps the Greek capitals of the GSM table', () => {
      const plan = planSms('ΔΦΓΛΩΠΨΣΘΞ');
      expect(plan.encoding).to.equal('gsm7');
      expect([...plan.parts[0]]).to.deep.equal([0x10, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a]);
    });

    it('sends emoji as UCS-2 with surrogate pairs counting two units', () => {
      const text = 'Your book is ready 📚😀';
      const plan = planSms(text);
      expect(plan).to.include({ encoding: 'ucs2', dataCoding: 8, units: text.length, perPart: 70 });
      expect(plan.units).to.equal(19 + 4);
      expect(plan.parts[0].subarray(-4).toString('hex')).to.equal('d83dde00');
      expect(roundTrip(plan)).to.equal(text);
    });

    it('sends Cyrillic as UCS-2 big-endian', () => {
      const text = 'Книга готова';
      const plan = planSms(text);
      expect(plan).to.include({ encoding: 'ucs2', dataCoding: 8, units: 12 });
      expect(plan.parts[0].subarray(0, 2).toString('hex')).to.equal('041a');
      expect(roundTrip(plan)).to.equal(text);
    });

    it('does not treat the escape character itself as GSM text', () => {
      expect(isGsmText('a\u001bb')).to.equal(false);
      expect(planSms('a\u001bb').encoding).to.equal('ucs2');
    });
  });

  describe('part boundaries', () => {
    const gsmCases: Array<[number, number]> = [
      [160, 1],
      [161, 2],
      [306, 2],
      [307, 3],
    ];
    for (const [length, parts] of gsmCases) {
      it(`GSM: ${length} characters make ${parts} part(s)`, () => {
        const text = 'abcdefghij'.repeat(40).slice(0, length);
        const plan = planSms(text);
        expect(plan.parts).to.have.length(parts);
        expect(plan.perPart).to.equal(parts === 1 ? 160 : 153);
        for (let i = 0; i < parts; i += 1) expect(septets(plan, i)).to.be.at.most(plan.perPart);
        if (parts > 1) expect(septets(plan, 0)).to.equal(153);
        expect(roundTrip(plan)).to.equal(text);
      });
    }

    const ucsCases: Array<[number, number]> = [
      [70, 1],
      [71, 2],
      [134, 2],
      [135, 3],
    ];
    for (const [length, parts] of ucsCases) {
      it(`UCS-2: ${length} units make ${parts} part(s)`, () => {
        const text = 'Ж'.repeat(length);
        const plan = planSms(text);
        expect(plan.encoding).to.equal('ucs2');
        expect(plan.parts).to.have.length(parts);
        expect(plan.perPart).to.equal(parts === 1 ? 70 : 67);
        if (parts > 1) expect(ucs2Units(plan, 0)).to.equal(67);
        expect(roundTrip(plan)).to.equal(text);
      });
    }

    it('counts extension characters double against the 160 limit', () => {
      expect(planSms('€'.repeat(80)).parts).to.have.length(1);
      expect(planSms('€'.repeat(81)).parts).to.have.length(2);
    });

    it('never splits an escape from its character across parts', () => {
      const text = `${'a'.repeat(152)}€${'b'.repeat(10)}`;
      const plan = planSms(text);
      expect(plan.parts).to.have.length(2);
      expect(septets(plan, 0)).to.equal(152);
      expect([...body(plan, 1).subarray(0, 2)]).to.deep.equal([ESC, 0x65]);
      expect(roundTrip(plan)).to.equal(text);
    });

    it('never splits escapes in many random GSM texts', () => {
      const alphabet = 'abcXYZ 0123.,!?@£$€[]{}~^|\\\fÆØÅæøå';
      let seed = 42;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed / 0x7fffffff;
      };
      for (let n = 0; n < 300; n += 1) {
        const length = 100 + Math.floor(random() * 400);
        let text = '';
        for (let i = 0; i < length; i += 1) text += alphabet[Math.floor(random() * alphabet.length)];
        const plan = planSms(text);
        expect(plan.encoding).to.equal('gsm7');
        plan.parts.forEach((_, i) => {
          const b = body(plan, i);
          expect(b.length, 'septets in a part').to.be.at.most(plan.perPart);
          // An escape is always followed by its character inside the same part.
          for (let j = 0; j < b.length; j += 1) {
            if (b[j] === ESC) {
              expect(j + 1, `escape at the end of part ${i + 1}`).to.be.lessThan(b.length);
              j += 1;
            }
          }
        });
        expect(roundTrip(plan)).to.equal(text);
      }
    });

    it('never splits a surrogate pair across parts', () => {
      const text = `${'a'.repeat(66)}😀${'b'.repeat(5)}`;
      const plan = planSms(text);
      expect(plan.parts).to.have.length(2);
      expect(ucs2Units(plan, 0)).to.equal(66);
      expect(body(plan, 1).subarray(0, 4).toString('hex')).to.equal('d83dde00');
      expect(roundTrip(plan)).to.equal(text);
    });

    it('keeps every part of a long emoji text whole', () => {
      const text = '😀🎉📚'.repeat(40) + 'x';
      const plan = planSms(text);
      for (let i = 0; i < plan.parts.length; i += 1) {
        const b = body(plan, i);
        const lastUnit = b.readUInt16BE(b.length - 2);
        expect(lastUnit >= 0xd800 && lastUnit <= 0xdbff, `part ${i + 1} ends in a high surrogate`).to.equal(false);
      }
      expect(roundTrip(plan)).to.equal(text);
    });

    it('writes a 6-octet concatenation header with one reference for all parts', () => {
      const plan = planSms('x'.repeat(400), { reference: 0xab });
      expect(plan.parts).to.have.length(3);
      plan.parts.forEach((p, i) => {
        expect([...p.subarray(0, 6)]).to.deep.equal([0x05, 0x00, 0x03, 0xab, 3, i + 1]);
      });
    });

    it('refuses a text longer than 255 parts', () => {
      expect(codeOf(() => planSms('a'.repeat(153 * 255 + 1)))).to.equal('SMS_TOO_LONG');
      expect(planSms('a'.repeat(153 * 255)).parts).to.have.length(255);
    });

    it('refuses a lone surrogate with a clear error', () => {
      expect(codeOf(() => planSms('broken \ud83d text'))).to.equal('SMS_INVALID_TEXT');
    });
  });

  describe('segment counter', () => {
    it('reports parts and what is left in the current part', () => {
      expect(segmentInfo('')).to.deep.equal({ encoding: 'gsm7', dataCoding: 0, units: 0, parts: 0, perPart: 160, remaining: 160 });
      expect(segmentInfo('abc')).to.include({ parts: 1, remaining: 157 });
      expect(segmentInfo('€')).to.include({ units: 2, remaining: 158 });
      expect(segmentInfo('a'.repeat(160))).to.include({ parts: 1, remaining: 0 });
      expect(segmentInfo('a'.repeat(161))).to.include({ parts: 2, perPart: 153, remaining: 145 });
      expect(segmentInfo('Ж'.repeat(71))).to.include({ encoding: 'ucs2', parts: 2, perPart: 67, remaining: 63 });
      expect(segmentInfo('😀')).to.include({ encoding: 'ucs2', units: 2, remaining: 68 });
    });

    it('does not throw on a lone surrogate while staff type', () => {
      expect(segmentInfo('x\ud83d')).to.include({ encoding: 'ucs2', units: 2, parts: 1 });
    });
  });

  describe('decoding', () => {
    it('round-trips every character of the GSM alphabet', () => {
      const all =
        '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\f^{}\\[~]|€';
      expect(isGsmText(all)).to.equal(true);
      expect(decodeSmsPayload(encodeGsm7(all), 0, false).text).to.equal(all);
    });

    it('shows an unknown extension as the default character and a trailing escape as a space', () => {
      expect(decodeSmsPayload(Buffer.from([0x61, ESC, 0x41]), 0, false).text).to.equal('aA');
      expect(decodeSmsPayload(Buffer.from([0x61, ESC]), 0, false).text).to.equal('a ');
    });

    it('reads ASCII, Latin-1 and a 16-bit concatenation reference', () => {
      expect(decodeSmsPayload(Buffer.from('id:1 stat:DELIVRD'), 1, false).text).to.equal('id:1 stat:DELIVRD');
      expect(decodeSmsPayload(Buffer.from('côté', 'latin1'), 3, false).text).to.equal('côté');
      const withRef16 = Buffer.concat([Buffer.from([0x06, 0x08, 0x04, 0x12, 0x34, 2, 1]), Buffer.from('hi')]);
      expect(decodeSmsPayload(withRef16, 0, true)).to.deep.equal({ text: 'hi', concat: { reference: 0x1234, total: 2, sequence: 1 } });
    });

    it('gives clear errors for payloads it cannot read', () => {
      expect(codeOf(() => decodeSmsPayload(Buffer.from([0x00, 0x41, 0x00]), 8, false))).to.equal('SMS_DECODE_FAILED');
      expect(codeOf(() => decodeSmsPayload(Buffer.from([0x80]), 0, false))).to.equal('SMS_DECODE_FAILED');
      expect(codeOf(() => decodeSmsPayload(Buffer.from([0x09, 0x00]), 0, true))).to.equal('SMS_DECODE_FAILED');
      expect(codeOf(() => decodeSmsPayload(Buffer.from('x'), 4, false))).to.equal('SMS_UNSUPPORTED_DATA_CODING');
    });
  });
});

describe('SMS addresses', () => {
  it('sends E.164 destinations as TON 1 NPI 1 without the plus', () => {
    expect(destinationAddress('+4791234567')).to.deep.equal({ addr: '4791234567', ton: 1, npi: 1 });
  });

  it('refuses destinations that are not E.164', () => {
    for (const bad of ['4791234567', '+47 912 34 567', '+0123456789', 'phone', '', '+1234']) {
      expect(
        codeOf(() => destinationAddress(bad)),
        bad,
      ).to.equal('SMPP_INVALID_DESTINATION');
    }
  });

  it('chooses TON/NPI from the form of the sender', () => {
    expect(sourceAddress('Library')).to.deep.equal({ addr: 'Library', ton: 5, npi: 0 });
    expect(sourceAddress('Oslo Bib 1')).to.deep.equal({ addr: 'Oslo Bib 1', ton: 5, npi: 0 });
    expect(sourceAddress('+4722334455')).to.deep.equal({ addr: '4722334455', ton: 1, npi: 1 });
    expect(sourceAddress('2222')).to.deep.equal({ addr: '2222', ton: 3, npi: 1 });
    expect(sourceAddress('22334455')).to.deep.equal({ addr: '22334455', ton: 0, npi: 1 });
    expect(sourceAddress('')).to.deep.equal({ addr: '', ton: 0, npi: 0 });
  });

  it('refuses senders an SMSC cannot carry', () => {
    for (const bad of ['CityLibraryNorth', 'Bibliotek Å', '+47 22 33', '12']) {
      expect(
        codeOf(() => sourceAddress(bad)),
        bad,
      ).to.equal('SMPP_INVALID_SOURCE');
    }
  });
});

describe('delivery receipts', () => {
  const deliver = (over: Partial<IncomingDeliver>): IncomingDeliver => ({
    command: 'deliver_sm',
    sourceAddr: '4791234567',
    destinationAddr: 'Library',
    esmClass: 0x04,
    dataCoding: 0,
    shortMessage: Buffer.alloc(0),
    messagePayload: null,
    ...over,
  });

  it('reads the text form, ignoring anything quoted after text:', () => {
    const text = 'id:0A1B2C sub:001 dlvrd:000 submit date:2501011200 done date:2501011201 stat:UNDELIV err:001 text:stat:DELIVRD id:X';
    expect(parseReceiptText(text)).to.deep.equal({
      id: '0A1B2C',
      stat: 'UNDELIV',
      err: '001',
      sub: '001',
      dlvrd: '000',
      submitDate: '2501011200',
      doneDate: '2501011201',
    });
    expect(parseReceipt(deliver({ shortMessage: Buffer.from(text) }))).to.deep.equal({
      providerId: '0A1B2C',
      state: 'failed',
      stat: 'UNDELIV',
      err: '001',
    });
  });

  it('reads the TLV form and prefers it to the text', () => {
    const receipt = parseReceipt(
      deliver({
        receiptedMessageId: 'abc123',
        messageState: 2,
        shortMessage: Buffer.from('id:other stat:UNDELIV err:000'),
      }),
    );
    expect(receipt).to.deep.equal({ providerId: 'abc123', state: 'delivered', stat: 'DELIVRD', err: '000' });
    expect(parseReceipt(deliver({ receiptedMessageId: 'q', messageState: 3, networkErrorCode: Buffer.from([3, 0, 27]) }))).to.deep.equal({
      providerId: 'q',
      state: 'failed',
      stat: 'EXPIRED',
      err: '027',
    });
    expect(parseReceipt(deliver({ receiptedMessageId: 'q', messageState: 6 }))).to.include({ state: 'other', stat: 'ACCEPTD' });
  });

  it('ignores messages that are not receipts and refuses unreadable ones', () => {
    expect(parseReceipt(deliver({ esmClass: 0x00, shortMessage: Buffer.from('id:1 stat:DELIVRD') }))).to.equal(null);
    expect(parseReceipt(deliver({ shortMessage: Buffer.from('hello there') }))).to.equal(null);
  });
});
