import { expect } from 'chai';
import { BranchDirectory } from '../../sidecar/notices/context';
import type { Branch } from '../../sidecar/host';

const branch: Branch = {
  branchcode: 'CPL',
  branchname: 'Centralbiblioteket',
  branchemail: 'central@example.org',
  branchreplyto: null,
  branchreturnpath: null,
  branchphone: '+46 8 123',
  branchaddress1: 'Storgatan 1',
  branchaddress2: null,
  branchzip: '111 22',
  branchcity: 'Stockholm',
  branchcountry: null,
};

describe('a branch in the notices of a run', () => {
  const directory = new BranchDirectory(new Map([['CPL', branch]]), new Map(), 'library@example.org');

  it('is made once per branch and shared by every message, which cannot change it', () => {
    const data = directory.templateData('CPL');
    expect(data).to.deep.equal({
      code: 'CPL',
      name: 'Centralbiblioteket',
      email: 'central@example.org',
      phone: '+46 8 123',
      address: 'Storgatan 1\n111 22 Stockholm',
    });
    expect(directory.templateData('CPL')).to.equal(data);
    expect(() => {
      (data as Record<string, string>).name = 'Other';
    }).to.throw(TypeError);
    expect(directory.templateData(null)).to.include({ code: '', name: '', email: 'library@example.org' });
  });
});
