import { expect } from 'chai';
import { classifyBounce, readVerpTag, verpReturnPath } from '../../sidecar/bounces';
import { KmcError, SettingsError } from '../../sidecar/errors';
import { deliveryStatusReport } from '../support/bounce-reports';

const secret = 'a library secret of some length';

describe('VERP return path', () => {
  it('with a bounce domain: bounce+<id>.<8 base32 characters>@<bounce domain>', () => {
    const path = verpReturnPath(4711, { secret, bounceDomain: 'Bounce.Library.example', senderAddress: 'notices@library.example' });
    expect(path).to.match(/^bounce\+4711\.[a-z2-7]{8}@bounce\.library\.example$/);
    expect(readVerpTag(/\+(.*)@/.exec(path)?.[1], secret)).to.deep.equal({ messageId: 4711 });
  });

  it("without a bounce domain: a plus-tag on the sender's own address", () => {
    const path = verpReturnPath(12, { secret, bounceDomain: '', senderAddress: 'Solna.Notices@Library.example' });
    expect(path).to.match(/^Solna\.Notices\+bounce-12\.[a-z2-7]{8}@library\.example$/);
    expect(readVerpTag(/\+(.*)@/.exec(path)?.[1], secret)).to.deep.equal({ messageId: 12 });
  });

  it('is the same for the same message and secret, different for another message or secret', () => {
    const opts = { secret, bounceDomain: 'b.example', senderAddress: 'n@l.example' };
    expect(verpReturnPath(5, opts)).to.equal(verpReturnPath(5, opts));
    const sig = (p: string) => /\.([a-z2-7]{8})@/.exec(p)?.[1];
    expect(sig(verpReturnPath(5, opts))).not.to.equal(sig(verpReturnPath(6, opts)));
    expect(sig(verpReturnPath(5, opts))).not.to.equal(sig(verpReturnPath(5, { ...opts, secret: 'another secret' })));
  });

  it('the classifier reads the tag of both forms, and readVerpTag finds the message', async () => {
    for (const bounceDomain of ['bounce.library.example', undefined]) {
      const path = verpReturnPath(90210, { secret, bounceDomain, senderAddress: 'notices@library.example' });
      const v = await classifyBounce(deliveryStatusReport({ to: path }));
      expect(v.kind).to.equal('hard');
      expect(v.returnPath).to.equal(path.toLowerCase());
      expect(readVerpTag(v.verpTag, secret), path).to.deep.equal({ messageId: 90210 });
    }
  });

  it('a sender address that has a plus-tag of its own keeps it, and the tag still reads', async () => {
    const path = verpReturnPath(77, { secret, senderAddress: 'notices+solna@library.example' });
    expect(path).to.match(/^notices\+solna\+bounce-77\.[a-z2-7]{8}@library\.example$/);
    const v = await classifyBounce(deliveryStatusReport({ to: 'notices@library.example', deliveredTo: path }));
    expect(v.verpTag).to.match(/^solna\+bounce-77\./);
    expect(readVerpTag(v.verpTag, secret)).to.deep.equal({ messageId: 77 });
  });

  it("the envelope's recipient names the return path before any header", async () => {
    const path = verpReturnPath(31, { secret, bounceDomain: 'bounce.library.example', senderAddress: 'n@library.example' });
    const v = await classifyBounce(deliveryStatusReport({ to: 'someone+else@library.example' }), { envelopeTo: [path] });
    expect(v.returnPath).to.equal(path);
    expect(readVerpTag(v.verpTag, secret)).to.deep.equal({ messageId: 31 });
  });

  it('forged, altered or foreign tags give null', () => {
    const tag = /\+(.*)@/.exec(verpReturnPath(4711, { secret, bounceDomain: 'b.example', senderAddress: 'n@l.example' }))?.[1] ?? '';
    const [id, sig] = tag.split('.');
    expect(readVerpTag(tag, secret)).to.deep.equal({ messageId: 4711 });
    // Another message's id under this signature: someone trying to fail another patron's notice.
    expect(readVerpTag(`4712.${sig}`, secret)).to.equal(null);
    // One character of the signature changed.
    const flipped = sig.slice(0, 7) + (sig[7] === 'a' ? 'b' : 'a');
    expect(readVerpTag(`${id}.${flipped}`, secret)).to.equal(null);
    // The right form under another secret, a short signature, no signature, no tag at all.
    expect(readVerpTag(tag, 'another secret')).to.equal(null);
    expect(readVerpTag(`${id}.${sig.slice(0, 6)}`, secret)).to.equal(null);
    expect(readVerpTag(id, secret)).to.equal(null);
    expect(readVerpTag('', secret)).to.equal(null);
    expect(readVerpTag(null, secret)).to.equal(null);
    expect(readVerpTag('newsletter', secret)).to.equal(null);
    expect(readVerpTag(`0.${sig}`, secret)).to.equal(null);
    // An empty secret checks nothing.
    expect(readVerpTag(tag, '')).to.equal(null);
  });

  it('reads tags in upper case (some servers change the case of the local part)', () => {
    const tag = /\+(.*)@/.exec(verpReturnPath(8, { secret, bounceDomain: 'b.example', senderAddress: 'n@l.example' }))?.[1] ?? '';
    expect(readVerpTag(tag.toUpperCase(), secret)).to.deep.equal({ messageId: 8 });
  });

  it('accepts an old secret next to the new one while the secret is being replaced', () => {
    const tag = /\+(.*)@/.exec(verpReturnPath(9, { secret: 'old secret', bounceDomain: 'b.example', senderAddress: 'n@l.example' }))?.[1];
    expect(readVerpTag(tag, ['new secret', 'old secret'])).to.deep.equal({ messageId: 9 });
    expect(readVerpTag(tag, ['new secret'])).to.equal(null);
  });

  it('refuses an empty secret, a sender address that is none, and a message id that is none', () => {
    expect(() => verpReturnPath(1, { secret: '', senderAddress: 'n@l.example' })).to.throw(SettingsError);
    expect(() => verpReturnPath(1, { secret, senderAddress: 'notices' })).to.throw(SettingsError);
    expect(() => verpReturnPath(1, { secret, senderAddress: 'notices@' })).to.throw(SettingsError);
    expect(() => verpReturnPath(0, { secret, senderAddress: 'n@l.example' })).to.throw(KmcError);
    expect(() => verpReturnPath(1.5, { secret, senderAddress: 'n@l.example' })).to.throw(KmcError);
  });
});
